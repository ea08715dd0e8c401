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
// in. Per-message problems (wrong M or d, NaN, unknown task) fail only that message.
//
// Thread-safety: after Load, Answer and AnswerText may be called from several threads at once.
#ifndef LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_
#define LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/torch_compat.h"

namespace lip {

struct ReceiverPipelineOptions {
  std::string bridge_dir;     // bridge checkpoint directory (required)
  std::string model_dir;      // receiver model checkpoint directory (required)
  std::string tokenizer_dir;  // empty = model_dir
  LoadOptions model_options;  // device and dtype (default CPU fp32)
  bool allow_model_mismatch = false;
  // Energy mode applied to soft tokens; unset (kNone is a real mode, so use the flag) = bridge's.
  bool override_energy_mode = false;
  EnergyMode energy_mode = EnergyMode::kPerVectorNorm;
  // BENCHMARK ONLY, never a default: as SenderPipelineOptions::random_weights_for_benchmark (random
  // model weights from model_dir/config.json, a randomly initialised receiver half from bridge.json).
  bool random_weights_for_benchmark = false;
  uint64_t random_seed = 0;
};

// What to do with a message (lip.v1.Task).
struct ReceiverTask {
  enum class Kind { kClassify, kGenerate };
  Kind kind = Kind::kClassify;
  // kClassify: verbalizers scored as continuations of the anchor; empty = the bridge's labels.
  std::vector<std::string> labels;
  // kGenerate:
  int64_t max_new_tokens = 32;   // 1..1024
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
  double decode_ms = 0;   // label scoring or generation
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
      ReceiverHalf half);

  // Answers a batch. The outer status fails only for an empty batch or a LibTorch failure of the
  // whole batch; answers[i] is messages[i]'s answer or its own error (INVALID_ARGUMENT naming the
  // value, e.g. "message has M*d = 24 values, expected 8*16 = 128").
  absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> Answer(
      const std::vector<LatentMessage>& messages) const;
  absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> AnswerText(
      const std::vector<TextMessage>& messages) const;

  const BridgeMetadata& bridge() const { return half_.metadata; }
  const BridgeModelId& model_id() const { return model_id_; }
  const DecoderModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const EnergyMatcher& energy_matcher() const { return energy_matcher_; }

  // The adapted, energy-matched soft tokens (B, M, receiver width) for z (B, M, d_z): the
  // receiver half alone, for tests and evaluation. No gradients.
  torch::Tensor AdaptSoftTokens(const torch::Tensor& z) const;

 private:
  ReceiverPipeline(EnergyConfig energy) : energy_matcher_(energy) {}

  std::shared_ptr<const DecoderModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  // mutable: LibTorch modules have non-const forward(); the adapter is only read after Load.
  mutable ReceiverHalf half_;
  BridgeModelId model_id_;
  EnergyMatcher energy_matcher_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_RECEIVER_PIPELINE_H_
