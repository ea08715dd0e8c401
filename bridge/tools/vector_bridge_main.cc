// lip-vector-bridge: trains and evaluates the single-vector bridge kinds between two frozen models
// on a classification task, reusing a lip-train run config for the models, data, labels and
// priming:
//
//   lip-vector-bridge --config=bridge/configs/demo_sst2.json --kind=bottleneck \
//       --out=/tmp/sst2-bottleneck --train_limit=2000 --test_file=../shared/data/sst2/test.jsonl
//
//   bottleneck:       sender pooled last hidden state -> bottleneck adapter -> energy matching
//                     -> ONE soft token in [BOS, prefix, v, anchor] -> label scoring
//   dual_translator:  sender vector -> A->B translator -> blended into the receiver's last three
//                     layers over [BOS, prefix, anchor] -> label scoring
//
// Both are trained on paired vectors of the same training texts (never the test split). Writes the
// bridge checkpoint (docs/checkpoint.md, "Single-vector kinds") with the test accuracy and, for
// reference, the accuracy of the receiver on the bare frame (no message: the majority-guess level),
// and the measures of the methods' papers on the test texts: held-out cosine alignment of the mapped
// vector with the receiver's own (both directions for the dual translator), the oracle accuracy with
// the receiver's own vector injected (the method's ceiling) and the gold label's log-probability
// shift against the bare frame.
// With --result it also writes the evaluation suite's run result (bridge/eval/run_result.h).
// --device=cuda runs the frozen models in bf16 on the GPU (the trained modules stay fp32).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "bridge/eval/run_result.h"
#include "bridge/vector_bridge/blend_injection.h"
#include "bridge/vector_bridge/bottleneck_adapter.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "common/wire/status_macros.h"
#include "bridge/vector_bridge/text_vector.h"
#include "bridge/vector_bridge/vector_bridge_checkpoint.h"
#include "bridge/model/device_load_options.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "bridge/train/vector_pair_trainer.h"

ABSL_FLAG(std::string, config, "", "lip-train run config (JSON): models, train_file, labels, priming");
ABSL_FLAG(std::string, kind, "bottleneck", "bottleneck | dual_translator");
ABSL_FLAG(std::string, out, "", "directory for the trained bridge checkpoint");
ABSL_FLAG(int64_t, train_limit, 2000, "training texts (the first N of train_file; 0 = all)");
ABSL_FLAG(int64_t, steps, 600, "optimizer steps");
ABSL_FLAG(int64_t, batch_size, 64, "pairs per step");
ABSL_FLAG(double, learning_rate, 1e-3, "AdamW learning rate");
ABSL_FLAG(uint64_t, seed, 1, "seed of the initialization and the batches");
ABSL_FLAG(std::string, pooling, "mean", "mean | last: how each model's hidden states are pooled");
ABSL_FLAG(int64_t, receiver_layer, 99,
          "hidden_states index of the receiver's target vectors (negative from the end); 99 = the kind's "
          "default: -1 (last hidden state) for bottleneck, -2 (residual stream) for dual_translator");
ABSL_FLAG(double, alpha, 0.3, "dual_translator: blending weight");
ABSL_FLAG(std::string, test_file, "", "held-out test JSONL (optional)");
ABSL_FLAG(int64_t, test_limit, 0, "evaluate on at most this many test examples (0 = all)");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0 = LibTorch's default)");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda (frozen models in bf16 on CUDA)");
ABSL_FLAG(std::string, result, "", "write the evaluation suite's run result (JSON) here (needs --test_file)");
ABSL_FLAG(std::string, direction, "forward", "direction name recorded in the run result");

namespace lip {
namespace {

std::vector<std::string> Texts(const TextDataset& data) {
  std::vector<std::string> texts;
  for (const LabelledText& e : data.examples) texts.push_back(e.text);
  return texts;
}

absl::Status Run() {
  const std::string kind = absl::GetFlag(FLAGS_kind);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (absl::GetFlag(FLAGS_config).empty() || out_dir.empty()) {
    return absl::InvalidArgumentError("--config and --out are required");
  }
  if (kind != kBottleneckKind && kind != kDualTranslatorKind) {
    return absl::InvalidArgumentError("--kind must be bottleneck or dual_translator, got " + kind);
  }
  if (absl::GetFlag(FLAGS_threads) > 0) torch::set_num_threads(absl::GetFlag(FLAGS_threads));
  LIP_ASSIGN_OR_RETURN(TrainConfig config, ReadTrainConfig(absl::GetFlag(FLAGS_config)));
  LIP_ASSIGN_OR_RETURN(LoadOptions load_options, LoadOptionsForDevice(absl::GetFlag(FLAGS_device)));
  const auto start = std::chrono::steady_clock::now();
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<DecoderModel> sender, DecoderModel::Load(config.sender_model_dir, load_options));
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> sender_tokenizer, Tokenizer::FromDirectory(config.sender_model_dir));
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<DecoderModel> receiver,
                       DecoderModel::Load(config.receiver_model_dir, load_options));
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> receiver_tokenizer,
                       Tokenizer::FromDirectory(config.receiver_model_dir));
  LIP_ASSIGN_OR_RETURN(TextDataset train,
                       ReadJsonlDataset(config.train_file, config.label_names, absl::GetFlag(FLAGS_train_limit)));

  VectorBridgeMetadata m;
  m.name = config.name + "-" + kind;
  m.kind = kind;
  m.task = config.task;
  m.priming = config.priming;
  m.sender_model = {sender->config().model_type, config.sender_model_name, "", sender->weights_digest()};
  m.receiver_model = {receiver->config().model_type, config.receiver_model_name, "", receiver->weights_digest()};
  LIP_ASSIGN_OR_RETURN(VectorPooling pooling, ParseVectorPooling(absl::GetFlag(FLAGS_pooling)));
  m.sender_vector = {-1, pooling, config.max_text_tokens};
  // The bottleneck's target is the receiver's last hidden state; the blend writes into the
  // residual stream, so the translator's targets are taken there (entering the last block).
  m.receiver_vector = {kind == kBottleneckKind ? -1 : -2, pooling, config.max_text_tokens};
  if (kind == kDualTranslatorKind) m.sender_vector.layer = -2;
  if (absl::GetFlag(FLAGS_receiver_layer) != 99) m.receiver_vector.layer = absl::GetFlag(FLAGS_receiver_layer);
  for (size_t i = 0; i < config.label_names.size(); ++i) {
    m.labels.push_back(i < config.verbalizers.size() ? config.verbalizers[i] : " " + config.label_names[i]);
  }

  std::fprintf(stderr, "lip-vector-bridge: encoding %zu training texts with both models\n", train.examples.size());
  LIP_ASSIGN_OR_RETURN(torch::Tensor a, EncodeTextVectors(*sender, *sender_tokenizer, Texts(train), m.sender_vector));
  LIP_ASSIGN_OR_RETURN(torch::Tensor b,
                       EncodeTextVectors(*receiver, *receiver_tokenizer, Texts(train), m.receiver_vector));

  VectorPairTrainingOptions options;
  options.steps = absl::GetFlag(FLAGS_steps);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.report_every = 100;
  options.on_report = [](int64_t step, double loss) {
    std::fprintf(stderr, "lip-vector-bridge: step %lld loss %.5f\n", static_cast<long long>(step), loss);
  };
  torch::manual_seed(options.seed);

  LIP_ASSIGN_OR_RETURN(PrimingTokens priming_tokens, TokenizePriming(*receiver_tokenizer, m.priming));
  ContextPrimer primer(priming_tokens);
  std::vector<std::vector<int64_t>> label_ids;
  for (const std::string& label : m.labels) {
    LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, receiver_tokenizer->Encode(label, /*add_special_tokens=*/false));
    label_ids.emplace_back(ids.begin(), ids.end());
  }
  const std::vector<int32_t> bare_frame = primer.FrameText({});

  BottleneckAdapter adapter{nullptr};
  DualTranslator translator{nullptr};
  VectorPairTrainingReport report;
  if (kind == kBottleneckKind) {
    m.bottleneck = {sender->hidden_size(), 512, receiver->hidden_size()};
    LIP_ASSIGN_OR_RETURN(EnergyReference reference, MeasureEnergy(receiver->embedding_weight()));
    m.energy.mode = config.energy_mode;
    m.energy.reference_energy = reference.reference_energy;
    m.energy.reference_rms = reference.reference_rms;
    adapter = BottleneckAdapter(m.bottleneck);
    LIP_ASSIGN_OR_RETURN(report, TrainBottleneckAdapter(adapter, a, b, options));
  } else {
    m.translator = {sender->hidden_size(), receiver->hidden_size(), 512, 8, 16};
    m.blend.alpha = absl::GetFlag(FLAGS_alpha);
    translator = DualTranslator(m.translator);
    LIP_ASSIGN_OR_RETURN(report, TrainDualTranslator(translator, a, b, options));
  }
  std::fprintf(stderr, "lip-vector-bridge: loss over all pairs %.5f -> %.5f\n", report.initial_loss,
               report.final_loss);
  RunResult result;
  result.task = config.task;
  result.method = kind == kBottleneckKind ? kMethodBottleneck : kMethodDualTranslator;
  result.direction = absl::GetFlag(FLAGS_direction);
  result.sender = config.sender_model_name;
  result.receiver = config.receiver_model_name;
  result.num_soft_tokens = kind == kBottleneckKind ? 1 : 0;
  result.seed = options.seed;
  result.device = absl::GetFlag(FLAGS_device);
  result.threads = torch::get_num_threads();
  result.steps = options.steps;
  result.batch_size = options.batch_size;
  result.train_examples = train.examples.size();
  // Encoding the training pairs with both models plus the optimization.
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (kind == kDualTranslatorKind) result.note = absl::StrFormat("blending alpha %.2f", m.blend.alpha);
  m.training = {{"train_file", config.train_file}, {"train_examples", train.examples.size()},
                {"steps", options.steps},         {"batch_size", options.batch_size},
                {"learning_rate", options.learning_rate}, {"seed", options.seed},
                {"initial_loss", report.initial_loss},    {"final_loss", report.final_loss}};

  const std::string test_file = absl::GetFlag(FLAGS_test_file);
  if (!test_file.empty()) {
    LIP_ASSIGN_OR_RETURN(TextDataset test,
                         ReadJsonlDataset(test_file, config.label_names, absl::GetFlag(FLAGS_test_limit)));
    torch::NoGradGuard no_grad;
    LIP_ASSIGN_OR_RETURN(torch::Tensor test_a, EncodeTextVectors(*sender, *sender_tokenizer, Texts(test), m.sender_vector));
    // The receiver's own vectors of the test texts: the alignment targets and the oracle's message.
    LIP_ASSIGN_OR_RETURN(torch::Tensor test_b,
                         EncodeTextVectors(*receiver, *receiver_tokenizer, Texts(test), m.receiver_vector));
    // Label scores with receiver-width vectors [n, d_r] injected the kind's way.
    auto score = [&](const torch::Tensor& vectors) -> absl::StatusOr<torch::Tensor> {
      if (kind == kBottleneckKind) {
        return ScoreLabelsWithSoftVector(*receiver, primer, EnergyMatcher(m.energy), vectors, label_ids);
      }
      return ScoreLabelsWithBlend(*receiver, bare_frame, vectors, label_ids, m.blend);
    };
    // The receiver on the bare frame (no message) predicts one label for everything.
    BlendConfig no_blend;
    no_blend.alpha = 0.0;
    LIP_ASSIGN_OR_RETURN(torch::Tensor bare, ScoreLabelsWithBlend(*receiver, bare_frame,
                                                                  torch::zeros({1, receiver->hidden_size()}),
                                                                  label_ids, no_blend));
    const int64_t bare_label = bare.argmax(1)[0].item<int64_t>();
    int64_t correct = 0, oracle_correct = 0, bare_correct = 0;
    double shift = 0, oracle_shift = 0, cosine = 0, cosine_centered = 0, cosine_reverse = 0;
    // Pooled states share a large common direction; the centered cosine (both sides minus the
    // receiver's mean training vector) shows the alignment beyond it.
    const torch::Tensor b_mean = b.mean(0, /*keepdim=*/true);
    const int64_t chunk = 32;
    for (int64_t begin = 0; begin < test_a.size(0); begin += chunk) {
      const int64_t n = std::min(chunk, test_a.size(0) - begin);
      torch::Tensor a_chunk = test_a.narrow(0, begin, n), b_chunk = test_b.narrow(0, begin, n);
      torch::Tensor mapped = kind == kBottleneckKind ? adapter->forward(a_chunk) : translator->a_to_b(a_chunk);
      cosine += torch::cosine_similarity(mapped, b_chunk, 1).sum().item<double>();
      cosine_centered += torch::cosine_similarity(mapped - b_mean, b_chunk - b_mean, 1).sum().item<double>();
      if (kind == kDualTranslatorKind) {
        cosine_reverse += torch::cosine_similarity(translator->b_to_a(b_chunk), a_chunk, 1).sum().item<double>();
      }
      LIP_ASSIGN_OR_RETURN(torch::Tensor scores, score(mapped));
      LIP_ASSIGN_OR_RETURN(torch::Tensor oracle_scores, score(b_chunk));
      torch::Tensor predicted = scores.argmax(1), oracle_predicted = oracle_scores.argmax(1);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t gold = test.examples[begin + i].label;
        correct += predicted[i].item<int64_t>() == gold;
        oracle_correct += oracle_predicted[i].item<int64_t>() == gold;
        const double bare_gold = bare[0][gold].item<double>();
        shift += scores[i][gold].item<double>() - bare_gold;
        oracle_shift += oracle_scores[i][gold].item<double>() - bare_gold;
      }
    }
    for (const LabelledText& e : test.examples) bare_correct += e.label == bare_label;
    const double count = double(test.examples.size());
    result.oracle_accuracy = double(oracle_correct) / count;
    result.alignment_cosine = cosine / count;
    result.alignment_cosine_centered = cosine_centered / count;
    if (kind == kDualTranslatorKind) result.alignment_cosine_reverse = cosine_reverse / count;
    result.gold_logprob_shift = shift / count;
    result.oracle_gold_logprob_shift = oracle_shift / count;
    std::fprintf(stderr,
                 "lip-vector-bridge: held-out cosine %.4f (centered %.4f)%s; oracle (the receiver's own vector) accuracy %.4f; "
                 "gold log-prob shift %.4f (oracle %.4f) nats\n",
                 *result.alignment_cosine, *result.alignment_cosine_centered,
                 kind == kDualTranslatorKind ? absl::StrFormat(", reverse %.4f", *result.alignment_cosine_reverse).c_str()
                                             : "",
                 *result.oracle_accuracy, *result.gold_logprob_shift, *result.oracle_gold_logprob_shift);
    const double accuracy = double(correct) / double(test.examples.size());
    const double bare_accuracy = double(bare_correct) / double(test.examples.size());
    m.evaluation = {{"test", {{"file", test_file}, {"examples", test.examples.size()}, {"accuracy", accuracy}}},
                    {"bare_frame_accuracy", bare_accuracy},
                    {"oracle_accuracy", *result.oracle_accuracy},
                    {"alignment_cosine", *result.alignment_cosine},
                    {"alignment_cosine_centered", *result.alignment_cosine_centered},
                    {"gold_logprob_shift", *result.gold_logprob_shift},
                    {"oracle_gold_logprob_shift", *result.oracle_gold_logprob_shift}};
    if (result.alignment_cosine_reverse) m.evaluation["alignment_cosine_reverse"] = *result.alignment_cosine_reverse;
    std::fprintf(stderr, "lip-vector-bridge: %s test accuracy %.4f on %zu examples (bare frame %.4f)\n", kind.c_str(),
                 accuracy, test.examples.size(), bare_accuracy);
    result.test_file = test_file;
    result.test_examples = test.examples.size();
    result.accuracy = accuracy;
  }
  if (kind == kBottleneckKind) {
    LIP_RETURN_IF_ERROR(SaveVectorBridge(out_dir, m, *adapter));
  } else {
    LIP_RETURN_IF_ERROR(SaveVectorBridge(out_dir, m, *translator));
  }
  std::fprintf(stderr, "lip-vector-bridge: wrote %s\n", out_dir.c_str());
  if (!absl::GetFlag(FLAGS_result).empty()) {
    if (!result.accuracy.has_value()) return absl::InvalidArgumentError("--result needs --test_file");
    LIP_RETURN_IF_ERROR(WriteRunResult(absl::GetFlag(FLAGS_result), result));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = lip::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "lip-vector-bridge: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
