// The receiver side of LIP as one object: owns the frozen receiver model, its tokenizer and the
// receiver half of one bridge, and answers soft-token messages.
//
//   Z (M x d_z floats) -> adapter -> energy matching -> [BOS, prefix, soft tokens, anchor]
//     -> prefill -> classify (label log-probs) or generate (greedy / sampled decode)
//
// AnswerText does the same for plain text ([BOS, prefix, text, anchor]), the text baselines.
//
// Loading: a bridge checkpoint directory (only bridge.json + receiver.safetensors are read) and a
// Hugging Face model directory. The model's weights digest must equal the bridge's
// receiver_model.weights_digest (FAILED_PRECONDITION otherwise, unless `allow_model_mismatch`).
//
// Batching: a batch may mix priming frames, tasks and label sets; messages with the same frame
// and task run together in one prefill. Stage timings of a message are those of the group it ran
// in. Per-message problems (wrong M or d, NaN, unknown task, a work cap exceeded) fail only that
// message.
//
// Work caps (ReceiverLimits): the priming frame, the text, the label-scoring work and the
// generation budget of every message are counted in tokens and checked against the caps and the
// model's max_position_embeddings before any tensor is allocated for it, so no single message
// can make a batch slow or the process large (INVALID_ARGUMENT, reason LIMIT_EXCEEDED).
//
// Abandoned work: Answer and AnswerText take an optional MessageGate, asked before each group
// of messages runs; a message whose caller has gone (deadline passed, cancelled) is answered
// with the gate's status and does not run.
//
// Thread-safety: after Load, Answer and AnswerText may be called from several threads at once.
#ifndef LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_
#define LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/model/decoder_model.h"
#include "bridge/model/graphed_function.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/torch_compat.h"
#include "common/wire/packet_limits.h"

namespace lip {

// Per-message work caps (docs/protocol.md, "Receiver work limits"). A message over one fails
// alone with INVALID_ARGUMENT, reason LIMIT_EXCEEDED, before anything is allocated for it.
struct ReceiverLimits {
  int64_t max_priming_tokens = 256;   // context prefix + anchor, in receiver tokens
  int64_t max_text_tokens = 1024;     // a text message's text, in receiver tokens
  // Label scoring: labels x the longest verbalizer, in tokens (the rows x columns it runs).
  int64_t max_label_positions = 512;
  // The generation budget is not restated here: it is PacketLimits::max_new_tokens
  // (common/wire/packet_limits.h), the protocol's limit.
};

struct ReceiverPipelineOptions {
  std::string bridge_dir;     // bridge checkpoint directory (required)
  std::string model_dir;      // receiver model checkpoint directory (required)
  std::string tokenizer_dir;  // empty = model_dir
  LoadOptions model_options;  // device and dtype (default CPU fp32)
  bool allow_model_mismatch = false;
  // Energy mode applied to soft tokens; unset (kNone is a real mode, so use the flag) = bridge's.
  bool override_energy_mode = false;
  EnergyMode energy_mode = EnergyMode::kPerVectorNorm;
  ReceiverLimits limits;
  // BENCHMARK ONLY, never a default: as SenderPipelineOptions::random_weights_for_benchmark (random
  // model weights from model_dir/config.json, a randomly initialised receiver half from bridge.json).
  bool random_weights_for_benchmark = false;
  uint64_t random_seed = 0;
};

// Asked for message `index` before its group runs: OK to run it, or the status to answer it
// with instead (e.g. DEADLINE_EXCEEDED when its caller's deadline passed). May be empty.
using MessageGate = std::function<absl::Status(size_t index)>;

// What to do with a message (lip.v1.Task).
struct ReceiverTask {
  enum class Kind { kClassify, kGenerate };
  Kind kind = Kind::kClassify;
  // kClassify: verbalizers scored as continuations of the anchor; empty = the bridge's labels.
  std::vector<std::string> labels;
  // kGenerate:
  int64_t max_new_tokens = 32;   // 1..PacketLimits::max_new_tokens
  double temperature = 0;        // 0 = greedy
  double top_p = 0;              // 0 or 1 = no nucleus truncation
  uint64_t seed = 0;
  std::vector<std::string> stop;  // stop strings, cut from the output
};

// One soft-token message (from a decoded packet).
struct LatentMessage {
  std::vector<float> z;          // M x d row-major
  int64_t num_soft_tokens = 0;   // M
  int64_t width = 0;             // d (must equal the bridge's d_z)
  PrimingConfig priming;         // empty fields = the bridge's trained priming
  ReceiverTask task;
};

// One plain-text message (text relay and zero-shot baselines).
struct TextMessage {
  std::string text;
  PrimingConfig priming;  // empty fields = the bridge's trained priming
  ReceiverTask task;
};

struct ReceiverStageTimings {
  double adapt_ms = 0;    // adapter + energy matching (or tokenization for text)
  double prefill_ms = 0;  // priming + prefill (included in decode_ms when scoring labels)
  double decode_ms = 0;   // label scoring or generation (the bridge's frame with one-token labels:
                          // adapter, energy matching, priming, prefill and scoring as one function;
                          // adapt_ms = prefill_ms = 0)
};

struct ReceiverAnswer {
  // kClassify
  std::string label;
  int64_t label_index = -1;
  std::vector<float> label_log_probs;  // one per label, task order
  // kGenerate
  std::string text;
  std::vector<int32_t> token_ids;
  std::string stop_reason;  // "eos", "stop_string", "max_new_tokens"
  ReceiverStageTimings timings;
  int64_t batch_size = 0;  // size of the group this message was served in
};

class ReceiverPipeline {
 public:
  // Errors as SenderPipeline::Load.
  static absl::StatusOr<std::unique_ptr<ReceiverPipeline>> Load(const ReceiverPipelineOptions& options);
  static absl::StatusOr<std::unique_ptr<ReceiverPipeline>> Create(
      std::shared_ptr<const DecoderModel> model, std::shared_ptr<const Tokenizer> tokenizer,
      ReceiverHalf half, ReceiverLimits limits = {});

  // Answers a batch. The outer status fails only for an empty batch or a LibTorch failure of the
  // whole batch; answers[i] is messages[i]'s answer or its own error (INVALID_ARGUMENT naming the
  // value, e.g. "message has M*d = 24 values, expected 8*16 = 128").
  absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> Answer(
      const std::vector<LatentMessage>& messages, const MessageGate& gate = {}) const;
  absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> AnswerText(
      const std::vector<TextMessage>& messages, const MessageGate& gate = {}) const;

  const BridgeMetadata& bridge() const { return half_.metadata; }
  const BridgeModelId& model_id() const { return model_id_; }
  const DecoderModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const EnergyMatcher& energy_matcher() const { return energy_matcher_; }
  const ReceiverLimits& limits() const { return limits_; }
  // CUDA graphs of the latent classify path (ClassifyOneTokenLabels) held; 0 off CUDA graphs.
  int num_classify_graphs() const { return classify_graphs_ == nullptr ? 0 : classify_graphs_->num_graphs(); }

  // The adapted, energy-matched soft tokens (B, M, receiver width) for z (B, M, d_z): the
  // receiver half alone, for tests and evaluation. No gradients.
  torch::Tensor AdaptSoftTokens(const torch::Tensor& z) const;

  // Pads every single-token classification batch to the CUDA graphs' batch buckets, as the
  // pipeline does by itself where the model replays graphs; tests turn it on elsewhere to check
  // that padding changes no score.
  void PadToGraphBucketsForTesting() { pad_to_graph_buckets_ = true; }

 private:
  // A message's task and frame, resolved against the bridge, tokenized and checked against the
  // work caps for a middle part (soft tokens or text) of `middle_tokens` positions.
  struct PreparedMessage {
    ReceiverTask task;
    PrimingConfig priming;
    PrimingTokens priming_tokens;
    std::vector<std::vector<int64_t>> label_ids;  // kClassify
  };
  absl::StatusOr<PreparedMessage> Prepare(const PrimingConfig& priming, const ReceiverTask& task,
                                          int64_t middle_tokens) const;
  // The label log-probs [B, L] of a classification whose labels are one token each, from soft
  // tokens z [B, M, d_z] on the host: adapter, energy matching, priming, prefill and label scores
  // as one function (one CUDA-graph replay where the model uses graphs). Answer uses it for the
  // bridge's own frame (M, priming, labels) only, so callers cannot multiply its graphs.
  absl::StatusOr<torch::Tensor> ClassifyOneTokenLabels(const torch::Tensor& z,
                                                       const PreparedMessage& prepared) const;

  // Classification graphs kept per node: 7 batch buckets x a few frames and label sets.
  static constexpr int kMaxClassifyGraphs = 64;

  ReceiverPipeline(EnergyConfig energy, ReceiverLimits limits)
      : energy_matcher_(energy), limits_(limits) {}

  std::shared_ptr<const DecoderModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  // mutable: LibTorch modules have non-const forward(); the adapter is only read after Load.
  mutable ReceiverHalf half_;
  BridgeModelId model_id_;
  EnergyMatcher energy_matcher_;
  ReceiverLimits limits_;
  std::unique_ptr<GraphedFunction> classify_graphs_;  // ClassifyOneTokenLabels as CUDA graphs
  bool pad_to_graph_buckets_ = false;                  // pad batches to the graphs' buckets
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_
