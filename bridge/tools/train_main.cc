// lip-train: trains a Perceiver bridge between two frozen models on a classification task, or
// (--method=prompt_tuning) the receiver-only prompt-tuning reference with the same M, or
// (--method=sender_ceiling) the sender ceiling: the bridge's sender half plus a linear head trained
// on the labels directly (bridge/train/sender_ceiling.h), or (--method=receiver_self_bridge) the
// receiver self-bridge: the same bridge with the receiver as its own source
// (ReceiverSelfBridgeConfig; saved to --out like a bridge, recorded as that method), or
// (--method=joint_receivers) one sender encoder trained jointly with the receiver halves of the
// config's receiver and of --joint_receiver_model_dir (bridge/train/joint_receiver_trainer.h):
// two ordinary bridges, --out and --joint_out, with the same sender half; --result gets each
// receiver's and the jointly rescored accuracy on --test_file.
//
//   lip-train --config=configs/demo_ag_news.json --out=demo/bridges/demo-ag_news \
//             [--checkpoint_dir=DIR --resume] [--test_file=../shared/data/ag_news/test.jsonl]
//   lip-train --train_file=data/my_task/train.jsonl --out=bridges/my_task [--labels=a,b,c]
//   lip-train --config=configs/demo_ag_news.json --method=prompt_tuning --seed=2 \
//             --test_file=../shared/data/ag_news/test.jsonl --result=/tmp/results/pt.json
//   lip-train --config=configs/demo_trec.json --method=joint_receivers \
//             --joint_receiver_model_dir=demo/models/sender-llama --out=/tmp/trec-qwen2 \
//             --joint_out=/tmp/trec-llama --test_file=../shared/data/trec/test.jsonl --result=/tmp/joint.json
//
// --seed, --num_queries (M), --steps and --learning_rate override the config, so one config serves
// a sweep. --config_patch applies a JSON merge patch (RFC 7386) to the config after those, e.g.
// '{"source_layer":5}' or '{"perceiver":{"output_width":64}}': an ablation, recorded as the run's
// variant. --learning_rates=0.001,0.003,0.01 chooses the rate on validation instead: one training
// per rate, the one with the best final validation accuracy is kept, tested and saved, and every
// rate's validation accuracy is recorded (bridge/train/learning_rate_search.h);
// --learning_rates=default is 3e-4..1e-1 in half-decades. Every method stops early on validation
// (early_stopping_patience) and keeps its best validation weights. The validation set is the
// config's validation_size (stratified), at most a fifth of the training file.
// --device=cuda loads the frozen models in bf16 on the GPU (trainable parts stay fp32).
//
// Writes the bridge checkpoint (bridge.json + sender/receiver safetensors) to --out. With
// --checkpoint_dir, full training checkpoints (weights, optimizer, scheduler step, sampler, RNG)
// go there every checkpoint_every steps and at the end; --resume continues from one.
// --test_file evaluates the final bridge on a held-out test split (never used for training) and
// records the accuracy in bridge.json. Prompt tuning writes no bridge: with --result it writes the
// suite's run result (bridge/eval/run_result.h) with its validation and test accuracy; so do the
// sender ceiling, and the bridge and self-bridge (with their test accuracy when --test_file is
// given; lip-eval bridge measures the rest).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bridge/eval/run_result.h"
#include "bridge/model/device_load_options.h"
#include "common/wire/status_macros.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/continuation_trainer.h"
#include "bridge/train/joint_receiver_trainer.h"
#include "bridge/train/learning_rate_search.h"
#include "bridge/train/prompt_tuner.h"
#include "bridge/train/sender_ceiling.h"

ABSL_FLAG(std::string, config, "", "run config (JSON), see bridge/train/train_config.h");
ABSL_FLAG(std::string, train_file, "",
          "labelled JSONL {text, label}: without --config, everything else defaulted (TrainConfigForFile); "
          "with --config, replaces its train_file");
ABSL_FLAG(std::string, labels, "",
          "comma-separated classes in order (default: every label of --train_file, sorted); verbalizers are "
          "\" \" + the label with '_' as spaces");
ABSL_FLAG(std::string, out, "", "directory for the trained bridge checkpoint");
ABSL_FLAG(std::string, checkpoint_dir, "", "directory for resumable training checkpoints (optional)");
ABSL_FLAG(bool, resume, false, "resume from --checkpoint_dir when it holds a checkpoint");
ABSL_FLAG(int64_t, steps, 0, "override the config's step count (> 0)");
ABSL_FLAG(std::string, test_file, "", "held-out test JSONL to evaluate the final bridge on (optional)");
ABSL_FLAG(int64_t, test_limit, 0,
          "evaluate on a stratified, seeded sample of this many test examples (0 = all), as lip-eval --test_limit");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0 = LibTorch's default)");
ABSL_FLAG(std::string, method, "bridge",
          "bridge | prompt_tuning | sender_ceiling | receiver_self_bridge | continuation | joint_receivers");
ABSL_FLAG(std::string, joint_receiver_model_dir, "",
          "joint_receivers: the second receiver's model directory (e.g. demo/models/sender-llama)");
ABSL_FLAG(std::string, joint_receiver_model_name, "",
          "joint_receivers: the second receiver's model name (default: the config's sender_model_name when it is "
          "the sender's directory, else the directory's name)");
ABSL_FLAG(std::string, joint_out, "", "joint_receivers: directory for the second receiver's bridge checkpoint");
ABSL_FLAG(int64_t, prefix_words, 24, "continuation: words of each passage the sender reads");
ABSL_FLAG(int64_t, continuation_tokens, 16, "continuation: receiver tokens of the continuation trained on (K)");
ABSL_FLAG(int64_t, train_passages, 4000, "continuation: passages read from --train_file (0 = all)");
ABSL_FLAG(int64_t, seed, 0, "override the config's seed (> 0)");
ABSL_FLAG(double, learning_rate, 0, "override the config's peak learning rate (> 0)");
ABSL_FLAG(std::string, learning_rates, "",
          "choose the peak learning rate on validation among these comma-separated rates (first wins ties); "
          "\"default\" = 3e-4,1e-3,3e-3,1e-2,3e-2,1e-1");
ABSL_FLAG(std::string, config_patch, "",
          "JSON merge patch applied to the config after the other overrides (an ablation; recorded as the variant)");
ABSL_FLAG(int64_t, num_queries, 0, "override the config's M (perceiver.num_queries; > 0)");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda (frozen models in bf16 on CUDA; trainable parts fp32)");
ABSL_FLAG(std::string, result, "", "write the run result (JSON) here");
ABSL_FLAG(std::string, direction, "forward", "direction name recorded in the run result");

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

// Applies a JSON merge patch to `config` (through its JSON form, so every key and check of
// TrainConfigFromJson applies). Returns the patch in compact form ("" for no patch): the variant.
absl::StatusOr<std::string> ApplyConfigPatch(const std::string& patch_text, TrainConfig* config) {
  if (patch_text.empty()) return std::string();
  nlohmann::json patch = nlohmann::json::parse(patch_text, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded() || !patch.is_object()) {
    return absl::InvalidArgumentError("--config_patch must be a JSON object, got: " + patch_text);
  }
  nlohmann::json merged = TrainConfigToJson(*config);
  merged.merge_patch(patch);
  absl::StatusOr<TrainConfig> patched = TrainConfigFromJson(merged);
  if (!patched.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--config_patch: ", patched.status().message()));
  }
  *config = *std::move(patched);
  return patch.dump();
}

// "stopped early at step S of N, ", "kept the weights of step B (validation)" from a validation
// history (bridge/train/early_stopping.h); "" when there is nothing to say.
std::string EarlyStoppingNote(const nlohmann::json& history, int64_t steps) {
  if (history.empty()) return "";
  const nlohmann::json& last = history.back();
  std::string note;
  const int64_t stopped = last.value("step", int64_t(0));
  if (stopped < steps) note = absl::StrCat("stopped early at step ", stopped, " of ", steps, "; ");
  const int64_t kept = last.value("restored_from_step", stopped);
  absl::StrAppend(&note, "kept the weights of step ", kept, " (best validation accuracy)");
  return note;
}

// The outcome of training at one rate or choosing among several (see TrainAtChosenRate).
template <typename Trainer>
struct TrainedAtRate {
  std::unique_ptr<Trainer> trainer;
  StepResult last;
  double learning_rate = 0;
  std::vector<LearningRateTrial> trials;  // empty unless --learning_rates was given
};

// The run result of a method trained from `config` (bridge/eval/run_result.h) with what every
// trained method records the same way: identity of the run, training scale, the learning rate and
// its search, and the validation history's last accuracy and early-stopping note. The caller adds
// the method's own fields (width, examples, timing, test accuracy).
template <typename Trainer>
RunResult TrainedRunResult(const TrainConfig& config, const BridgeEndpoints& endpoints, const std::string& method,
                           const std::string& variant, const TrainedAtRate<Trainer>& trained,
                           const nlohmann::json& validation_history) {
  RunResult result;
  result.task = config.task;
  result.method = method;
  result.direction = absl::GetFlag(FLAGS_direction);
  result.sender = endpoints.sender_id.name;
  result.receiver = endpoints.receiver_id.name;
  result.num_soft_tokens = config.perceiver.num_queries;
  result.variant = variant;
  result.seed = config.seed;
  result.device = absl::GetFlag(FLAGS_device);
  result.threads = torch::get_num_threads();
  result.steps = trained.trainer->step();
  result.batch_size = config.batch_size;
  result.learning_rate = trained.learning_rate;
  result.learning_rate_trials = trained.trials;
  if (!validation_history.empty()) result.validation_accuracy = validation_history.back()["accuracy"].get<double>();
  result.note = EarlyStoppingNote(validation_history, config.steps);
  return result;
}

// Trains one `Trainer` per rate in `rates` (each a fresh start from config's seed) and keeps the
// one with the best final validation accuracy; with a single rate and no search it simply trains.
//   create(config) -> StatusOr<unique_ptr<Trainer>>, train(Trainer&) -> StatusOr<StepResult>,
//   validation(const Trainer&) -> std::optional<double> (final validation accuracy).
template <typename Trainer, typename Create, typename Train, typename Validation>
absl::StatusOr<TrainedAtRate<Trainer>> TrainAtChosenRate(const TrainConfig& config, const std::vector<double>& rates,
                                                         bool search, Create create, Train train,
                                                         Validation validation) {
  TrainedAtRate<Trainer> best;
  std::optional<size_t> best_index;
  for (double rate : rates) {
    TrainConfig trial_config = config;
    trial_config.learning_rate = rate;
    if (search) std::fprintf(stderr, "lip-train: learning rate %g (%zu of %zu)\n", rate, best.trials.size() + 1,
                             rates.size());
    LIP_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, create(trial_config));
    LIP_ASSIGN_OR_RETURN(StepResult last, train(*trainer));
    if (!search) return TrainedAtRate<Trainer>{std::move(trainer), last, rate, {}};
    const std::optional<double> accuracy = validation(*trainer);
    if (!accuracy.has_value()) {
      return absl::FailedPreconditionError("choosing the learning rate needs a validation set (validation_size > 0)");
    }
    best.trials.push_back({rate, *accuracy, last.loss});
    std::fprintf(stderr, "lip-train: learning rate %g: validation accuracy %.4f, final train loss %.4f\n", rate,
                 *accuracy, last.loss);
    const size_t index = BestLearningRateTrial(best.trials);
    if (!best_index.has_value() || index != *best_index) {
      best_index = index;
      best.trainer = std::move(trainer);  // the previous best (if any) is freed here
      best.last = last;
      best.learning_rate = rate;
    }
  }
  std::fprintf(stderr, "lip-train: chose learning rate %g on validation\n", best.learning_rate);
  return best;
}

// The candidate rates: --learning_rates, else --learning_rate or the config's one. `search` says
// whether the rate is being chosen.
absl::StatusOr<std::vector<double>> CandidateRates(const TrainConfig& config, bool* search) {
  const std::string list = absl::GetFlag(FLAGS_learning_rates);
  *search = !list.empty();
  if (*search && absl::GetFlag(FLAGS_learning_rate) > 0) {
    return absl::InvalidArgumentError("give --learning_rate or --learning_rates, not both");
  }
  if (*search) return ParseLearningRates(list);
  return std::vector<double>{config.learning_rate};
}

// A reference trained in place of the bridge (prompt tuning on the receiver, or the sender
// ceiling): trains it at the chosen learning rate, evaluates it on --test_file, writes --result.
// `create` makes a Trainer (PromptTuner or SenderCeiling) for a config.
template <typename Trainer, typename Create>
absl::Status RunReference(const TrainConfig& config, const std::string& variant, const BridgeEndpoints& endpoints,
                          const TextDataset& train, const char* method, const std::string& what,
                          const Create& create) {
  const auto start = Clock::now();
  std::fprintf(stderr, "lip-train: %s: M = %lld\n", what.c_str(), static_cast<long long>(config.perceiver.num_queries));
  bool search = false;
  LIP_ASSIGN_OR_RETURN(std::vector<double> rates, CandidateRates(config, &search));
  LIP_ASSIGN_OR_RETURN(
      TrainedAtRate<Trainer> trained,
      TrainAtChosenRate<Trainer>(
          config, rates, search, create,
          [&](Trainer& trainer) {
            ProgressBar progress(0, config.steps, stderr, config.log_every);
            return trainer.Train(config.steps, &progress);
          },
          [](const Trainer& trainer) -> std::optional<double> {
            if (trainer.validation_history().empty()) return std::nullopt;
            return trainer.validation_history().back()["accuracy"].template get<double>();
          }));
  Trainer* trainer = trained.trainer.get();
  RunResult result = TrainedRunResult(config, endpoints, method, variant, trained, trainer->validation_history());
  if (std::string(method) == kMethodSenderCeiling) result.width = config.perceiver.output_width;
  result.train_examples = train.examples.size();
  // All trainings of the search count: that is what the chosen rate cost.
  result.train_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string test_file = absl::GetFlag(FLAGS_test_file);
  if (!test_file.empty()) {
    // --test_limit: a stratified, seeded sample (the one lip-eval takes), never the first rows.
    LIP_ASSIGN_OR_RETURN(TextDataset test,
                         ReadJsonlDataset(test_file, config.label_names, absl::GetFlag(FLAGS_test_limit)));
    LIP_ASSIGN_OR_RETURN(EvaluationResult eval, trainer->Evaluate(test));
    result.test_file = test_file;
    result.test_examples = eval.examples;
    result.accuracy = eval.accuracy;
    std::fprintf(stderr, "lip-train: %s test accuracy %.4f on %lld examples (final train loss %.4f)\n", what.c_str(),
                 eval.accuracy, static_cast<long long>(eval.examples), trained.last.loss);
  }
  if (!absl::GetFlag(FLAGS_result).empty()) {
    LIP_RETURN_IF_ERROR(WriteRunResult(absl::GetFlag(FLAGS_result), result));
    std::fprintf(stderr, "lip-train: wrote %s\n", absl::GetFlag(FLAGS_result).c_str());
  }
  return absl::OkStatus();
}

// --method=continuation: the demo pair (TrainConfigForFile's), passages from --train_file.
absl::Status RunContinuation() {
  const std::string train_file = absl::GetFlag(FLAGS_train_file);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (train_file.empty() || out_dir.empty()) {
    return absl::InvalidArgumentError("--method=continuation needs --train_file (plain text) and --out");
  }
  if (!absl::GetFlag(FLAGS_config).empty() || !absl::GetFlag(FLAGS_config_patch).empty() ||
      !absl::GetFlag(FLAGS_learning_rates).empty() || !absl::GetFlag(FLAGS_checkpoint_dir).empty()) {
    return absl::InvalidArgumentError(
        "--method=continuation takes no --config, --config_patch, --learning_rates or --checkpoint_dir");
  }
  if (absl::GetFlag(FLAGS_threads) > 0) torch::set_num_threads(absl::GetFlag(FLAGS_threads));
  TrainConfig config = TrainConfigForFile(train_file, {});
  config.task = kContinuationTask;
  config.name = "demo-continuation";
  config.label_names.clear();
  config.priming = {"Passage:", ""};
  config.perceiver.num_queries = 16;
  config.diversity_weight = 0;
  if (absl::GetFlag(FLAGS_steps) > 0) config.steps = absl::GetFlag(FLAGS_steps);
  if (absl::GetFlag(FLAGS_seed) > 0) config.seed = uint64_t(absl::GetFlag(FLAGS_seed));
  if (absl::GetFlag(FLAGS_num_queries) > 0) config.perceiver.num_queries = absl::GetFlag(FLAGS_num_queries);
  if (absl::GetFlag(FLAGS_learning_rate) > 0) config.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  if (config.warmup_steps >= config.steps) config.warmup_steps = config.steps / 10;
  LIP_ASSIGN_OR_RETURN(LoadOptions load_options, LoadOptionsForDevice(absl::GetFlag(FLAGS_device)));
  BridgeEndpoints endpoints;
  LIP_ASSIGN_OR_RETURN(endpoints.sender_model, DecoderModel::Load(config.sender_model_dir, load_options));
  LIP_ASSIGN_OR_RETURN(endpoints.sender_tokenizer, Tokenizer::FromDirectory(config.sender_model_dir));
  LIP_ASSIGN_OR_RETURN(endpoints.receiver_model, DecoderModel::Load(config.receiver_model_dir, load_options));
  LIP_ASSIGN_OR_RETURN(endpoints.receiver_tokenizer, Tokenizer::FromDirectory(config.receiver_model_dir));
  endpoints.sender_id.name = config.sender_model_name;
  endpoints.receiver_id.name = config.receiver_model_name;

  PassageOptions passage_options;
  passage_options.prefix_words = absl::GetFlag(FLAGS_prefix_words);
  passage_options.limit = absl::GetFlag(FLAGS_train_passages);
  LIP_ASSIGN_OR_RETURN(std::vector<Passage> passages, ReadPassages(train_file, passage_options));
  const int64_t k = absl::GetFlag(FLAGS_continuation_tokens);
  LIP_ASSIGN_OR_RETURN(std::vector<ContinuationExample> examples,
                       MakeContinuationExamples(*endpoints.receiver_tokenizer, passages, k));
  const int64_t train_passages = examples.size();
  std::fprintf(stderr, "lip-train: continuation: %lld passages of %s (%lld-word prefix, %lld continuation tokens), "
               "M = %lld, %lld steps of batch %lld\n", static_cast<long long>(train_passages), train_file.c_str(),
               static_cast<long long>(passage_options.prefix_words), static_cast<long long>(k),
               static_cast<long long>(config.perceiver.num_queries), static_cast<long long>(config.steps),
               static_cast<long long>(config.batch_size));
  const auto start = Clock::now();
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<ContinuationTrainer> trainer,
                       ContinuationTrainer::Create(config, endpoints, std::move(examples), k, passage_options));
  ProgressBar progress(0, config.steps, stderr, config.log_every);
  LIP_ASSIGN_OR_RETURN(ContinuationStepResult last, trainer->Train(config.steps, &progress));
  nlohmann::json evaluation = {{"train_seconds", std::chrono::duration<double>(Clock::now() - start).count()},
                               {"train_device", absl::GetFlag(FLAGS_device)},
                               {"train_passages", train_passages},
                               {"train_threads", torch::get_num_threads()},
                               {"learning_rate", config.learning_rate},
                               {"final_train_loss", last.loss}};
  LIP_RETURN_IF_ERROR(trainer->SaveBridge(out_dir, evaluation));
  std::fprintf(stderr, "lip-train: final train NLL per token %.4f; wrote %s\n", last.loss, out_dir.c_str());
  return absl::OkStatus();
}

std::string DirectoryName(const std::string& dir) {
  std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// --method=joint_receivers: one sender encoder, the config's receiver and a second one trained
// together; both bridges saved (named after their directories), evaluated alone and jointly.
absl::Status RunJointReceivers(const TrainConfig& config, const std::string& variant,
                               const BridgeEndpoints& endpoints, const LoadOptions& load_options,
                               const TextDataset& train, const TextDataset& validation) {
  const std::string second_dir = absl::GetFlag(FLAGS_joint_receiver_model_dir);
  const std::string out_dirs[2] = {absl::GetFlag(FLAGS_out), absl::GetFlag(FLAGS_joint_out)};
  if (second_dir.empty() || out_dirs[1].empty()) {
    return absl::InvalidArgumentError("--method=joint_receivers needs --joint_receiver_model_dir and --joint_out");
  }
  if (DirectoryName(out_dirs[0]) == DirectoryName(out_dirs[1])) {
    return absl::InvalidArgumentError("--out and --joint_out name the bridges: give them different names");
  }
  if (!absl::GetFlag(FLAGS_checkpoint_dir).empty()) {
    return absl::InvalidArgumentError("--method=joint_receivers takes no --checkpoint_dir (a joint run starts at step 0)");
  }
  std::vector<JointReceiver> receivers(2);
  receivers[0].config = config;
  receivers[0].config.name = DirectoryName(out_dirs[0]);
  receivers[0].endpoints = endpoints;
  TrainConfig& second = receivers[1].config;
  second = config;
  second.name = DirectoryName(out_dirs[1]);
  second.receiver_model_dir = second_dir;
  second.receiver_model_name = absl::GetFlag(FLAGS_joint_receiver_model_name);
  BridgeEndpoints& e = receivers[1].endpoints;
  e = endpoints;
  if (second_dir == config.sender_model_dir) {  // the sender as a receiver too: one model, shared
    e.receiver_model = endpoints.sender_model;
    e.receiver_tokenizer = endpoints.sender_tokenizer;
    if (second.receiver_model_name.empty()) second.receiver_model_name = endpoints.sender_id.name;
  } else {
    LIP_ASSIGN_OR_RETURN(e.receiver_model, DecoderModel::Load(second_dir, load_options));
    LIP_ASSIGN_OR_RETURN(e.receiver_tokenizer, Tokenizer::FromDirectory(second_dir));
  }
  if (second.receiver_model_name.empty()) second.receiver_model_name = DirectoryName(second_dir);
  e.receiver_id = BridgeModelId{};
  e.receiver_id.name = second.receiver_model_name;
  std::fprintf(stderr, "lip-train: joint receivers: one %s encoder for %s and %s, M = %lld, %lld steps of batch %lld, "
               "lr %g\n", endpoints.sender_id.name.c_str(), endpoints.receiver_id.name.c_str(),
               e.receiver_id.name.c_str(), static_cast<long long>(config.perceiver.num_queries),
               static_cast<long long>(config.steps), static_cast<long long>(config.batch_size), config.learning_rate);

  const auto start = Clock::now();
  bool search = false;
  LIP_ASSIGN_OR_RETURN(std::vector<double> rates, CandidateRates(config, &search));
  LIP_ASSIGN_OR_RETURN(
      TrainedAtRate<JointReceiverTrainer> trained,
      TrainAtChosenRate<JointReceiverTrainer>(
          config, rates, search,
          [&](const TrainConfig& c) {
            std::vector<JointReceiver> at_rate = receivers;
            for (JointReceiver& receiver : at_rate) receiver.config.learning_rate = c.learning_rate;
            return JointReceiverTrainer::Create(std::move(at_rate), train, validation);
          },
          [&](JointReceiverTrainer& trainer) -> absl::StatusOr<StepResult> {
            ProgressBar progress(0, config.steps, stderr, config.log_every);
            LIP_ASSIGN_OR_RETURN(const JointStepResult last, trainer.Train(config.steps, &progress));
            StepResult step;
            step.step = last.step;
            step.loss = last.loss;
            step.learning_rate = last.learning_rate;
            return step;
          },
          [](const JointReceiverTrainer& trainer) -> std::optional<double> {
            if (trainer.validation_history().empty()) return std::nullopt;
            return trainer.validation_history().back()["accuracy"].get<double>();
          }));
  JointReceiverTrainer* trainer = trained.trainer.get();
  const double train_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  nlohmann::json result = {
      {"format", "lip-joint-receivers-result"},
      {"method", "joint_receivers"},
      {"task", config.task},
      {"sender", endpoints.sender_id.name},
      {"num_soft_tokens", config.perceiver.num_queries},
      {"seed", config.seed},
      {"steps", config.steps},
      {"steps_done", trainer->step()},
      {"batch_size", config.batch_size},
      {"learning_rate", trained.learning_rate},
      {"loss", "sum over receivers of each receiver's task loss and adapter scale penalty, plus the diversity term "
               "on the shared soft tokens"},
      {"rescoring", "sum over receivers of the label log-probabilities normalised over the label set (RescoreJointly)"},
      {"device", absl::GetFlag(FLAGS_device)},
      {"threads", torch::get_num_threads()},
      {"train_examples", train.examples.size()},
      {"validation_examples", validation.examples.size()},
      {"train_seconds", train_seconds},
      {"final_train_loss", trained.last.loss},
      {"validation_history", trainer->validation_history()},
  };
  if (!variant.empty()) result["variant"] = variant;
  if (!trained.trials.empty()) result["learning_rate_trials"] = LearningRateTrialsToJson(trained.trials);
  const std::string stopping_note = EarlyStoppingNote(trainer->validation_history(), config.steps);
  if (!stopping_note.empty()) result["early_stopping"] = stopping_note;
  std::vector<nlohmann::json> evaluations(2);
  for (int r = 0; r < 2; ++r) {
    const BridgeMetadata m = trainer->receiver(r).metadata();
    result["receivers"].push_back({{"bridge", m.name}, {"receiver", m.receiver_model.name}, {"bridge_dir", out_dirs[r]}});
    evaluations[r] = {{"method", "joint_receivers"},
                      {"train_seconds", train_seconds},
                      {"train_device", absl::GetFlag(FLAGS_device)},
                      {"train_examples", train.examples.size()},
                      {"learning_rate", trained.learning_rate},
                      {"final_train_loss", trained.last.loss}};
    if (!stopping_note.empty()) evaluations[r]["early_stopping"] = stopping_note;
  }
  const std::string test_file = absl::GetFlag(FLAGS_test_file);
  if (!test_file.empty()) {
    LIP_ASSIGN_OR_RETURN(TextDataset test,
                         ReadJsonlDataset(test_file, config.label_names, absl::GetFlag(FLAGS_test_limit)));
    LIP_ASSIGN_OR_RETURN(JointEvaluation eval, trainer->Evaluate(test));
    result["test"] = {{"file", test_file},
                      {"examples", eval.examples},
                      {"joint_accuracy", eval.joint_accuracy},
                      {"receivers_agree", eval.receivers_agree},
                      {"any_receiver_right", eval.any_receiver_right},
                      {"disagreements", eval.disagreements},
                      {"joint_accuracy_on_disagreements", eval.joint_accuracy_on_disagreements}};
    for (int r = 0; r < 2; ++r) {
      result["receivers"][r]["test_accuracy"] = eval.receiver_accuracies[r];
      evaluations[r]["test"] = {{"file", test_file}, {"examples", eval.examples},
                                {"accuracy", eval.receiver_accuracies[r]},
                                {"joint_accuracy", eval.joint_accuracy}};
      std::fprintf(stderr, "lip-train: %s alone: test accuracy %.4f on %lld examples\n",
                   result["receivers"][r]["receiver"].get<std::string>().c_str(), eval.receiver_accuracies[r],
                   static_cast<long long>(eval.examples));
    }
    std::fprintf(stderr,
                 "lip-train: joint answer: test accuracy %.4f; the receivers agree on %.4f, one of them is right on "
                 "%.4f; on the %lld disagreements the joint answer is right on %.4f\n",
                 eval.joint_accuracy, eval.receivers_agree, eval.any_receiver_right,
                 static_cast<long long>(eval.disagreements), eval.joint_accuracy_on_disagreements);
  }
  LIP_RETURN_IF_ERROR(trainer->SaveBridges({out_dirs[0], out_dirs[1]}, evaluations));
  std::fprintf(stderr, "lip-train: wrote %s and %s (one sender half)\n", out_dirs[0].c_str(), out_dirs[1].c_str());
  const std::string result_path = absl::GetFlag(FLAGS_result);
  if (!result_path.empty()) {
    std::error_code error;
    const std::filesystem::path parent = std::filesystem::path(result_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    std::ofstream out(result_path, std::ios::trunc);
    out << result.dump(2) << "\n";
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", result_path));
    std::fprintf(stderr, "lip-train: wrote %s\n", result_path.c_str());
  }
  return absl::OkStatus();
}

absl::Status Run() {
  if (absl::GetFlag(FLAGS_method) == "continuation") return RunContinuation();
  const std::string config_path = absl::GetFlag(FLAGS_config);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  const std::string method = absl::GetFlag(FLAGS_method);
  if (method != "bridge" && method != "prompt_tuning" && method != "sender_ceiling" &&
      method != kMethodReceiverSelfBridge && method != "joint_receivers") {
    return absl::InvalidArgumentError("--method must be bridge, prompt_tuning, sender_ceiling, receiver_self_bridge, "
                                      "continuation or joint_receivers, got " + method);
  }
  const bool trains_bridge = method == "bridge" || method == kMethodReceiverSelfBridge || method == "joint_receivers";
  if (method != "joint_receivers" &&
      (!absl::GetFlag(FLAGS_joint_receiver_model_dir).empty() || !absl::GetFlag(FLAGS_joint_out).empty() ||
       !absl::GetFlag(FLAGS_joint_receiver_model_name).empty())) {
    return absl::InvalidArgumentError("--joint_receiver_model_dir, --joint_receiver_model_name and --joint_out go "
                                      "with --method=joint_receivers");
  }
  const std::string train_file = absl::GetFlag(FLAGS_train_file);
  if ((config_path.empty() && train_file.empty()) || (out_dir.empty() && trains_bridge)) {
    return absl::InvalidArgumentError("--config or --train_file, and --out, are required");
  }
  if (absl::GetFlag(FLAGS_threads) > 0) torch::set_num_threads(absl::GetFlag(FLAGS_threads));
  TrainConfig config;
  if (!config_path.empty()) {
    LIP_ASSIGN_OR_RETURN(config, ReadTrainConfig(config_path));
    if (!train_file.empty()) config.train_file = train_file;
  } else {
    std::vector<std::string> labels = absl::StrSplit(absl::GetFlag(FLAGS_labels), ',', absl::SkipEmpty());
    if (labels.empty()) {
      LIP_ASSIGN_OR_RETURN(labels, ReadJsonlLabels(train_file));
    }
    config = TrainConfigForFile(train_file, labels);
    std::fprintf(stderr, "lip-train: task %s from %s alone: %zu classes, the demo pair, default bridge shape\n",
                 config.task.c_str(), train_file.c_str(), config.label_names.size());
  }
  if (!absl::GetFlag(FLAGS_labels).empty() && !config_path.empty()) {
    return absl::InvalidArgumentError("--labels goes with --train_file alone; a config names its label_names");
  }
  if (absl::GetFlag(FLAGS_steps) > 0) config.steps = absl::GetFlag(FLAGS_steps);
  if (absl::GetFlag(FLAGS_seed) > 0) config.seed = uint64_t(absl::GetFlag(FLAGS_seed));
  if (absl::GetFlag(FLAGS_num_queries) > 0) config.perceiver.num_queries = absl::GetFlag(FLAGS_num_queries);
  if (absl::GetFlag(FLAGS_learning_rate) > 0) config.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  LIP_ASSIGN_OR_RETURN(const std::string variant, ApplyConfigPatch(absl::GetFlag(FLAGS_config_patch), &config));
  if (config.warmup_steps >= config.steps) config.warmup_steps = config.steps / 10;
  if (method == kMethodReceiverSelfBridge) {
    config = ReceiverSelfBridgeConfig(std::move(config));
    std::fprintf(stderr, "lip-train: receiver self-bridge: the bridge reads %s's own states\n",
                 config.receiver_model_dir.c_str());
  }
  LIP_ASSIGN_OR_RETURN(LoadOptions load_options, LoadOptionsForDevice(absl::GetFlag(FLAGS_device)));

  BridgeEndpoints endpoints;
  LIP_ASSIGN_OR_RETURN(endpoints.receiver_model, DecoderModel::Load(config.receiver_model_dir, load_options));
  LIP_ASSIGN_OR_RETURN(endpoints.receiver_tokenizer, Tokenizer::FromDirectory(config.receiver_model_dir));
  if (config.sender_model_dir == config.receiver_model_dir) {  // the self-bridge: one model, shared
    endpoints.sender_model = endpoints.receiver_model;
    endpoints.sender_tokenizer = endpoints.receiver_tokenizer;
  } else {
    LIP_ASSIGN_OR_RETURN(endpoints.sender_model, DecoderModel::Load(config.sender_model_dir, load_options));
    LIP_ASSIGN_OR_RETURN(endpoints.sender_tokenizer, Tokenizer::FromDirectory(config.sender_model_dir));
  }
  auto base_name = [](const std::string& dir) {
    std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
  };
  endpoints.sender_id.name =
      config.sender_model_name.empty() ? base_name(config.sender_model_dir) : config.sender_model_name;
  endpoints.receiver_id.name =
      config.receiver_model_name.empty() ? base_name(config.receiver_model_dir) : config.receiver_model_name;

  LIP_ASSIGN_OR_RETURN(TextDataset all, ReadJsonlDataset(config.train_file, config.label_names, config.train_limit));
  TextDataset train, validation;
  const int64_t validation_size = ValidationSizeFor(config.validation_size, int64_t(all.examples.size()));
  if (validation_size < config.validation_size) {
    std::fprintf(stderr, "lip-train: validation set of %lld, not %lld: at most a fifth of the %zu training rows\n",
                 static_cast<long long>(validation_size), static_cast<long long>(config.validation_size),
                 all.examples.size());
  }
  LIP_RETURN_IF_ERROR(SplitValidation(all, validation_size, config.seed, &train, &validation));
  std::fprintf(stderr, "lip-train: %zu training and %zu validation examples from %s\n", train.examples.size(),
               validation.examples.size(), config.train_file.c_str());
  if (method == "joint_receivers") {
    return RunJointReceivers(config, variant, endpoints, load_options, train, validation);
  }
  if (method == "prompt_tuning") {
    return RunReference<PromptTuner>(
        config, variant, endpoints, train, kMethodPromptTuning, "prompt tuning on " + endpoints.receiver_id.name,
        [&](const TrainConfig& c) {
          return PromptTuner::Create(c, endpoints.receiver_model, endpoints.receiver_tokenizer, train, validation);
        });
  }
  if (method == "sender_ceiling") {
    return RunReference<SenderCeiling>(
        config, variant, endpoints, train, kMethodSenderCeiling, "sender ceiling on " + endpoints.sender_id.name,
        [&](const TrainConfig& c) {
          return SenderCeiling::Create(c, endpoints.sender_model, endpoints.sender_tokenizer, train, validation);
        });
  }

  const auto start = Clock::now();
  const int64_t train_examples = train.examples.size();
  const std::string checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  bool search = false;
  LIP_ASSIGN_OR_RETURN(std::vector<double> rates, CandidateRates(config, &search));
  if (search && !checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--learning_rates cannot be combined with --checkpoint_dir (one run per rate)");
  }
  auto create = [&](const TrainConfig& c) -> absl::StatusOr<std::unique_ptr<BridgeTrainer>> {
    LIP_ASSIGN_OR_RETURN(std::unique_ptr<BridgeTrainer> trainer, BridgeTrainer::Create(c, endpoints, train, validation));
    if (absl::GetFlag(FLAGS_resume) && !checkpoint_dir.empty() &&
        std::filesystem::exists(std::filesystem::path(checkpoint_dir) / "trainer_state.json")) {
      LIP_RETURN_IF_ERROR(trainer->RestoreTrainingCheckpoint(checkpoint_dir));
      std::fprintf(stderr, "lip-train: resumed from %s at step %lld\n", checkpoint_dir.c_str(),
                   static_cast<long long>(trainer->step()));
    }
    if (trainer->scores_whole_verbalizers()) {
      std::fprintf(stderr, "lip-train: some verbalizers share their first receiver token: training scores whole "
                           "verbalizers\n");
    }
    const BridgeMetadata m = trainer->metadata();
    std::fprintf(stderr, "lip-train: bridge %s: source layer %lld, M = %lld, d_z = %lld, energy %s, lr %g\n",
                 m.name.c_str(), static_cast<long long>(m.sender.source_layer),
                 static_cast<long long>(m.sender.perceiver.num_queries),
                 static_cast<long long>(m.sender.perceiver.output_width), EnergyModeName(m.receiver.energy.mode),
                 c.learning_rate);
    return trainer;
  };
  auto train_bridge = [&](BridgeTrainer& trainer) {
    ProgressBar progress(trainer.step(), config.steps, stderr, config.log_every);
    return trainer.Train(config.steps, &progress, checkpoint_dir);
  };
  auto final_validation = [](const BridgeTrainer& trainer) -> std::optional<double> {
    const nlohmann::json history =
        trainer.metadata().training.value("validation_history", nlohmann::json::array());
    if (history.empty()) return std::nullopt;
    return history.back()["accuracy"].get<double>();
  };
  LIP_ASSIGN_OR_RETURN(TrainedAtRate<BridgeTrainer> trained,
                       TrainAtChosenRate<BridgeTrainer>(config, rates, search, create, train_bridge, final_validation));
  BridgeTrainer* trainer = trained.trainer.get();
  const StepResult last = trained.last;
  if (!checkpoint_dir.empty()) LIP_RETURN_IF_ERROR(trainer->SaveTrainingCheckpoint(checkpoint_dir));

  nlohmann::json evaluation = nlohmann::json::object();
  // Wall time of this invocation's training (a resumed run counts only its own part).
  evaluation["train_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
  evaluation["train_device"] = absl::GetFlag(FLAGS_device);
  evaluation["train_examples"] = train_examples;
  evaluation["train_threads"] = torch::get_num_threads();
  evaluation["learning_rate"] = trained.learning_rate;
  evaluation["method"] = method == kMethodReceiverSelfBridge ? kMethodReceiverSelfBridge : kMethodPerceiver;
  if (!variant.empty()) evaluation["variant"] = variant;
  if (!trained.trials.empty()) evaluation["learning_rate_trials"] = LearningRateTrialsToJson(trained.trials);
  const nlohmann::json history = trainer->metadata().training.value("validation_history", nlohmann::json::array());
  if (!history.empty()) evaluation["validation_accuracy"] = history.back()["accuracy"];
  const std::string stopping_note = EarlyStoppingNote(history, config.steps);
  if (!stopping_note.empty()) evaluation["early_stopping"] = stopping_note;
  RunResult result = TrainedRunResult(config, endpoints, evaluation["method"].get<std::string>(), variant, trained,
                                      history);
  result.width = config.perceiver.output_width;
  result.train_examples = train_examples;
  result.train_seconds = evaluation["train_seconds"].get<double>();
  const std::string test_file = absl::GetFlag(FLAGS_test_file);
  if (!test_file.empty()) {
    LIP_ASSIGN_OR_RETURN(TextDataset test,
                         ReadJsonlDataset(test_file, config.label_names, absl::GetFlag(FLAGS_test_limit)));
    LIP_ASSIGN_OR_RETURN(EvaluationResult test_result, trainer->Evaluate(test));
    evaluation["test"] = {{"file", test_file}, {"examples", test_result.examples}, {"accuracy", test_result.accuracy}};
    std::fprintf(stderr, "lip-train: test accuracy %.4f on %lld examples of %s\n", test_result.accuracy,
                 static_cast<long long>(test_result.examples), test_file.c_str());
    result.test_file = test_file;
    result.test_examples = test_result.examples;
    result.accuracy = test_result.accuracy;
  }
  evaluation["final_train_loss"] = last.loss;
  LIP_RETURN_IF_ERROR(trainer->SaveBridge(out_dir, evaluation));
  std::fprintf(stderr, "lip-train: wrote %s\n", out_dir.c_str());
  if (!absl::GetFlag(FLAGS_result).empty()) {
    LIP_RETURN_IF_ERROR(WriteRunResult(absl::GetFlag(FLAGS_result), result));
    std::fprintf(stderr, "lip-train: wrote %s\n", absl::GetFlag(FLAGS_result).c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = lip::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "lip-train: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
