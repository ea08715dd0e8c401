#include "bridge/train/bridge_trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/statistical_normalizer.h"
#include "bridge/model/label_scorer.h"
#include "bridge/train/class_balanced_step.h"
#include "bridge/train/losses.h"
#include "bridge/train/training_loop.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

constexpr char kTrainerStateFile[] = "trainer_state.json";
constexpr char kOptimizerFile[] = "optimizer.pt";
constexpr char kRngFile[] = "rng.pt";
constexpr char kBridgeSubdir[] = "bridge";

// Config keys that may change between a checkpoint and its resumption.
const std::set<std::string> kResumableKeys = {"steps", "eval_every", "checkpoint_every", "log_every"};

nlohmann::json ComparableConfig(const TrainConfig& config) {
  nlohmann::json j = TrainConfigToJson(config);
  for (const std::string& key : kResumableKeys) j.erase(key);
  return j;
}

std::string BaseName(const std::string& dir) {
  fs::path path = fs::path(dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().string();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BridgeTrainer>> BridgeTrainer::Create(const TrainConfig& config,
                                                                     BridgeEndpoints endpoints,
                                                                     TextDataset train,
                                                                     TextDataset validation,
                                                                     SenderEncoder shared_encoder) {
  if (!endpoints.sender_model || !endpoints.receiver_model || !endpoints.sender_tokenizer ||
      !endpoints.receiver_tokenizer) {
    return absl::InvalidArgumentError("trainer needs both models and both tokenizers");
  }
  if (train.label_names != config.label_names) {
    return absl::InvalidArgumentError("training data labels differ from the config's label_names");
  }
  auto trainer = std::unique_ptr<BridgeTrainer>(new BridgeTrainer());
  trainer->config_ = config;
  LIP_ASSIGN_OR_RETURN(BridgeMetadata m, BridgeMetadataForTraining(config, endpoints));
  m.labels = Verbalizers(config);
  LIP_RETURN_IF_ERROR(ValidateBridgeMetadata(m));

  // A class is recognized by the first receiver token of its verbalizer while those differ, else
  // by its whole verbalizer; two verbalizers with the same tokens can never be told apart.
  std::set<int64_t> first_tokens;
  std::set<std::vector<int64_t>> whole;
  for (size_t c = 0; c < m.labels.size(); ++c) {
    LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                         endpoints.receiver_tokenizer->Encode(m.labels[c], /*add_special_tokens=*/false));
    if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("verbalizer \"", m.labels[c], "\" has no tokens"));
    std::vector<int64_t> tokens(ids.begin(), ids.end());
    if (!whole.insert(tokens).second) {
      return absl::InvalidArgumentError(absl::StrCat("verbalizer \"", m.labels[c],
                                                     "\" has the same receiver tokens as another label's"));
    }
    if (!first_tokens.insert(tokens[0]).second) trainer->whole_verbalizer_ = true;
    trainer->answer_first_tokens_.push_back(tokens[0]);
    trainer->verbalizer_tokens_.push_back(std::move(tokens));
  }

  LIP_ASSIGN_OR_RETURN(trainer->bridge_, TrainableBridge::Create(config, endpoints, std::move(m),
                                                                           std::move(shared_encoder)));

  std::vector<int32_t> labels;
  for (const LabelledText& e : train.examples) labels.push_back(e.label);
  LIP_ASSIGN_OR_RETURN(ClassBalancedSampler sampler,
                       ClassBalancedSampler::Create(labels, int32_t(config.label_names.size()), config.seed));
  trainer->sampler_ = std::make_unique<ClassBalancedSampler>(std::move(sampler));
  trainer->endpoints_ = std::move(endpoints);
  trainer->train_ = std::move(train);
  trainer->validation_ = std::move(validation);
  return trainer;
}

absl::Status FitSenderNormalizer(const SenderPipeline& pipeline, SenderEncoder& encoder, const TextDataset& data,
                                 int64_t count) {
  NormalizerStatistics statistics(encoder->normalizer()->width());
  count = std::min<int64_t>(count, data.examples.size());
  for (int64_t begin = 0; begin < count; begin += 32) {
    std::vector<std::string> texts;
    for (int64_t i = begin; i < std::min<int64_t>(begin + 32, count); ++i) texts.push_back(data.examples[i].text);
    LIP_ASSIGN_OR_RETURN(SourceStates source, pipeline.ReadSourceStates(texts));
    LIP_RETURN_IF_ERROR(statistics.Add(source.states, source.mask));
  }
  torch::Tensor mean, std;
  LIP_RETURN_IF_ERROR(statistics.Finish(&mean, &std));
  return encoder->normalizer()->SetStatistics(mean, std);
}

absl::Status BridgeTrainer::FitNormalizer() {
  LIP_RETURN_IF_ERROR(FitSenderNormalizer(*bridge_.sender_pipeline, bridge_.encoder, train_, config_.normalizer_texts));
  normalizer_fitted_ = true;
  return absl::OkStatus();
}

absl::StatusOr<StepResult> BridgeTrainer::Step() {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  const ClassBalancedStep next = BeginClassBalancedStep(config_, step_, *sampler_, train_, *bridge_.optimizer);
  const std::vector<std::string>& texts = next.batch.texts;
  const std::vector<int64_t>& labels = next.batch.labels;
  StepResult result;
  result.step = next.step;
  result.learning_rate = next.learning_rate;
  LIP_ASSIGN_OR_RETURN(SourceStates source, bridge_.sender_pipeline->ReadSourceStates(texts));
  try {
    TrainableBridge::TrainingScope training(bridge_);
    torch::Tensor z = bridge_.encoder->forward(source.states, source.mask);
    LIP_ASSIGN_OR_RETURN(ReceiverLossTerms terms, ReceiverTaskLoss(z, labels));
    torch::Tensor loss = terms.task;
    torch::Tensor diversity = torch::zeros({});
    if (config_.label_names.size() > 2 && config_.diversity_weight > 0) {
      diversity = DiversityLoss(z);
      loss = loss + config_.diversity_weight * diversity;
    }
    if (terms.scale_penalty.defined()) loss = loss + terms.scale_penalty;
    bridge_.Update(loss, config_.max_grad_norm);

    torch::NoGradGuard no_grad;
    torch::Tensor predicted = terms.class_scores.argmax(1).cpu();
    result.accuracy = (predicted == torch::tensor(labels, torch::kInt64)).to(torch::kFloat64).mean().item<double>();
    result.loss = loss.item<double>();
    result.first_token_loss = terms.first_token.item<double>();
    result.label_loss = terms.label_loss.item<double>();
    result.diversity_loss = diversity.item<double>();
    result.adapter_scale = bridge_.adapter->scale_value();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training step ", result.step, " failed: ", e.what_without_backtrace()));
  }
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("training step ", result.step, " produced a non-finite loss"));
  }
  step_ = result.step;
  return result;
}

absl::StatusOr<ReceiverLossTerms> BridgeTrainer::ReceiverTaskLoss(const torch::Tensor& z,
                                                                  const std::vector<int64_t>& labels) {
  const DecoderModel& receiver = *endpoints_.receiver_model;
  torch::Tensor soft = bridge_.energy_matcher->Match(bridge_.adapter->forward(z)).to(receiver.dtype());
  LIP_ASSIGN_OR_RETURN(PrimedSequence primed, bridge_.primer->Prime(soft, receiver.embedding_weight()));
  ReceiverLossTerms terms;
  torch::Tensor label_tensor = torch::tensor(labels, torch::kInt64).to(primed.inputs_embeds.device());
  if (whole_verbalizer_) {
    LIP_ASSIGN_OR_RETURN(terms.class_scores, ScoreLabels(receiver, primed.inputs_embeds, primed.attention_mask,
                                                         verbalizer_tokens_));
    terms.class_scores = terms.class_scores.to(torch::kFloat32);
    terms.first_token = -terms.class_scores.gather(1, label_tensor.unsqueeze(1)).mean();  // gold verbalizer NLL
    terms.label_loss = torch::nn::functional::cross_entropy(terms.class_scores, label_tensor);
  } else {
    ForwardInput input;
    input.inputs_embeds = primed.inputs_embeds;
    input.attention_mask = primed.attention_mask;
    input.logits_last_only = true;
    torch::Tensor logits = receiver.Forward(input).logits.select(1, 0);  // (B, V)
    torch::Tensor class_tokens = torch::tensor(answer_first_tokens_, torch::kInt64).to(logits.device());
    torch::Tensor answer_tokens = class_tokens.index_select(0, label_tensor);
    terms.first_token = FirstTokenLoss(logits, answer_tokens);
    terms.label_loss = LabelCrossEntropy(logits, class_tokens, label_tensor);
    terms.class_scores = logits.index_select(1, class_tokens);
  }
  terms.task = config_.first_token_weight * terms.first_token + config_.label_ce_weight * terms.label_loss;
  if (config_.scale_reg_weight > 0) terms.scale_penalty = config_.scale_reg_weight * bridge_.adapter->ScaleRegularizer();
  return terms;
}

absl::StatusOr<StepResult> BridgeTrainer::Train(int64_t until_step, ProgressBar* progress,
                                                const std::string& checkpoint_dir) {
  TrainingLoop loop;
  loop.until_step = until_step;
  // The run ends at config.steps, where it always validates and keeps the best weights; a run
  // paused before (until_step < steps, resumed from a checkpoint) does neither for the pause.
  loop.final_step = config_.steps;
  loop.history = [this]() -> nlohmann::json& { return bridge_.metadata.training["validation_history"]; };
  if (!checkpoint_dir.empty() && config_.checkpoint_every > 0) {
    loop.after_step = [this, &checkpoint_dir](int64_t step) {
      return step % config_.checkpoint_every == 0 ? SaveTrainingCheckpoint(checkpoint_dir) : absl::OkStatus();
    };
  }
  return TrainWithValidation(*this, config_, validation_, std::move(loop), progress);
}

std::vector<torch::Tensor> BridgeTrainer::TrainableParameters() const { return bridge_.Parameters(); }

absl::StatusOr<EvaluationResult> BridgeTrainer::Evaluate(const TextDataset& dataset, int64_t limit,
                                                         int64_t batch_size,
                                                         std::vector<std::vector<float>>* label_log_probs) {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  EvaluationResult result;
  const int64_t count = limit > 0 ? std::min<int64_t>(limit, dataset.examples.size()) : dataset.examples.size();
  int64_t correct = 0;
  bridge_.encoder->eval();
  bridge_.adapter->eval();
  for (int64_t begin = 0; begin < count; begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, count);
    std::vector<std::string> texts;
    for (int64_t i = begin; i < end; ++i) texts.push_back(dataset.examples[i].text);
    LIP_ASSIGN_OR_RETURN(std::vector<EncodedText> encoded, bridge_.sender_pipeline->Encode(texts));
    std::vector<LatentMessage> messages(encoded.size());
    for (size_t j = 0; j < encoded.size(); ++j) {
      messages[j].z = std::move(encoded[j].z);
      messages[j].num_soft_tokens = encoded[j].num_soft_tokens;
      messages[j].width = encoded[j].width;
    }
    LIP_ASSIGN_OR_RETURN(auto answers, bridge_.receiver_pipeline->Answer(messages));
    for (size_t j = 0; j < answers.size(); ++j) {
      if (!answers[j].ok()) return answers[j].status();
      if (answers[j]->label_index == dataset.examples[begin + j].label) ++correct;
      if (label_log_probs != nullptr) label_log_probs->push_back(answers[j]->label_log_probs);
    }
  }
  result.examples = count;
  result.accuracy = count > 0 ? double(correct) / count : 0;
  return result;
}

BridgeMetadata BridgeTrainer::metadata() const { return bridge_.MetadataAfter(step_); }

absl::Status BridgeTrainer::SaveBridge(const std::string& dir, const nlohmann::json& evaluation) {
  return bridge_.Save(dir, step_, evaluation);
}

absl::Status BridgeTrainer::SaveTrainingCheckpoint(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  LIP_RETURN_IF_ERROR(SaveBridge((fs::path(dir) / kBridgeSubdir).string(), nlohmann::json::object()));
  try {
    torch::save(*bridge_.optimizer, (fs::path(dir) / kOptimizerFile).string());
    torch::Tensor rng_state;
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      rng_state = generator.get_state();
    }
    torch::save(rng_state, (fs::path(dir) / kRngFile).string());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("saving optimizer/RNG state to ", dir, ": ", e.what_without_backtrace()));
  }
  const SamplerState& sampler = sampler_->state();
  nlohmann::json state = {
      {"format", "lip-trainer-state"},
      {"format_version", 1},
      {"step", step_},
      {"normalizer_fitted", normalizer_fitted_},
      {"sampler", {{"seed", sampler.seed}, {"epoch", sampler.epoch}, {"position", sampler.position}}},
      {"sender_weights_digest", bridge_.metadata.sender_model.weights_digest},
      {"receiver_weights_digest", bridge_.metadata.receiver_model.weights_digest},
      {"validation_history", bridge_.metadata.training.value("validation_history", nlohmann::json::array())},
      {"config", TrainConfigToJson(config_)},
  };
  const std::string path = (fs::path(dir) / kTrainerStateFile).string();
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << state.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  fs::rename(path + ".tmp", path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", path, ": ", error.message()));
  return absl::OkStatus();
}

absl::Status BridgeTrainer::RestoreTrainingCheckpoint(const std::string& dir) {
  const std::string state_path = (fs::path(dir) / kTrainerStateFile).string();
  std::ifstream in(state_path);
  if (!in) return absl::NotFoundError(absl::StrCat(state_path, " does not exist"));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json state = nlohmann::json::parse(text.str(), nullptr, false);
  if (state.is_discarded() || !state.is_object() || state.value("format", "") != "lip-trainer-state") {
    return absl::InvalidArgumentError(absl::StrCat(state_path, " is not a LIP trainer state"));
  }
  auto saved_config = TrainConfigFromJson(state["config"]);
  if (!saved_config.ok()) return saved_config.status();
  if (ComparableConfig(*saved_config) != ComparableConfig(config_)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " was trained with another config; only ", "steps, eval_every, checkpoint_every and log_every may change on resume"));
  }
  if (state.value("sender_weights_digest", "") != bridge_.metadata.sender_model.weights_digest ||
      state.value("receiver_weights_digest", "") != bridge_.metadata.receiver_model.weights_digest) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " was trained with other sender/receiver weights"));
  }
  const std::string bridge_dir = (fs::path(dir) / kBridgeSubdir).string();
  LIP_RETURN_IF_ERROR(LoadModuleTensors((fs::path(bridge_dir) / kSenderHalfFile).string(), *bridge_.encoder));
  LIP_RETURN_IF_ERROR(LoadModuleTensors((fs::path(bridge_dir) / kReceiverHalfFile).string(), *bridge_.adapter, "adapter."));
  try {
    torch::load(*bridge_.optimizer, (fs::path(dir) / kOptimizerFile).string());
    torch::Tensor rng_state;
    torch::load(rng_state, (fs::path(dir) / kRngFile).string());
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng_state);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("restoring optimizer/RNG state from ", dir, ": ", e.what_without_backtrace()));
  }
  SamplerState sampler;
  const nlohmann::json& s = state["sampler"];
  sampler.seed = s.value("seed", uint64_t(0));
  sampler.epoch = s.value("epoch", int64_t(0));
  sampler.position = s.value("position", int64_t(0));
  LIP_RETURN_IF_ERROR(sampler_->Restore(sampler));
  step_ = state.value("step", int64_t(0));
  normalizer_fitted_ = state.value("normalizer_fitted", false);
  bridge_.metadata.training["validation_history"] = state.value("validation_history", nlohmann::json::array());
  return absl::OkStatus();
}

}  // namespace lip
