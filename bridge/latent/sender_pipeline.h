// The sender side of LIP as one object: owns the frozen sender model, its tokenizer and the
// sender half of one bridge, and turns texts into soft tokens Z ready for the packet codec.
//
//   text -> tokenizer -> sender model (early exit at the bridge's source layer)
//        -> statistical normalizer -> Perceiver resampler -> Z (M x d_z floats) + energy mode
//
// It also generates plain text with the same model, for the text-relay baseline.
//
// Loading: a bridge checkpoint directory (only bridge.json + sender.safetensors are read) and a
// Hugging Face model directory (config.json, safetensors weights, tokenizer.json). The model's
// weights digest must equal the one the bridge was trained with (FAILED_PRECONDITION otherwise,
// unless `allow_model_mismatch`).
//
// Thread-safety: after Load, Encode and GenerateText may be called from several threads at once.
// Ownership: the pipeline owns everything it loads; the object must outlive the calls.
#ifndef LIP_BRIDGE_LATENT_SENDER_PIPELINE_H_
#define LIP_BRIDGE_LATENT_SENDER_PIPELINE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/model/decoder_model.h"
#include "bridge/model/graphed_function.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/torch_compat.h"

namespace lip {

struct SenderPipelineOptions {
  std::string bridge_dir;     // bridge checkpoint directory (required)
  std::string model_dir;      // sender model checkpoint directory (required)
  std::string tokenizer_dir;  // empty = model_dir
  LoadOptions model_options;  // device and dtype (default CPU fp32)
  // Accept a model whose weights digest differs from the bridge's sender_model.weights_digest.
  bool allow_model_mismatch = false;
  // BENCHMARK ONLY, never a default: model_dir needs only config.json and the tokenizer; the model's
  // weights are drawn at random (DecoderModel::RandomInit, on model_options.device) and bridge_dir
  // needs only bridge.json, whose sender half is randomly initialised. The answers are meaningless;
  // the shapes, the tokenizer and so the cost are the real ones.
  bool random_weights_for_benchmark = false;
  uint64_t random_seed = 0;
};

// One text's soft tokens and what the packet needs to describe them.
struct EncodedText {
  std::vector<float> z;           // M x d_z, row-major fp32
  int64_t num_soft_tokens = 0;    // M
  int64_t width = 0;              // d_z
  // The calibration the packet carries: what the receiver half should apply. (source_rms and
  // source_mean_norm are measured by the packet codec on these fp32 values: common/wire/packet_codec.h.)
  EnergyMode energy_mode = EnergyMode::kPerVectorNorm;  // what the receiver should apply
  double target_reference_energy = 0;                   // the receiver's E_ref from the bridge
  int64_t source_layer = 0;
  int64_t text_tokens = 0;  // tokens the sender read (after truncation)
  bool truncated = false;   // the text was longer than max_text_tokens
  double encode_ms = 0;     // wall time of the batch this text was encoded in
  // Of encode_ms: the device part (ids to the device, the sender forward, normaliser and resampler
  // — one CUDA-graph replay where the model uses graphs — and the soft tokens back to the host); the
  // rest is tokenizing and packing the batch on the host.
  double device_ms = 0;
};

// `encoded` addressed to `bridge`, another bridge with the same sender half (one encoder for
// several receivers, protocol.md §13): the soft tokens stay, the calibration the packet carries
// becomes that bridge's receiver half's (energy mode and E_ref, which differ between receivers).
EncodedText EncodedForBridge(EncodedText encoded, const BridgeMetadata& bridge);

// Text the sender generated (text-relay baseline).
struct GeneratedText {
  std::string text;
  std::vector<int32_t> token_ids;  // new tokens, stop token excluded
  bool stopped_on_eos = false;     // false: hit max_new_tokens
  double generate_ms = 0;
};

// The sender model's hidden states at the bridge's source layer for a batch of texts.
struct SourceStates {
  torch::Tensor states;              // (B, T, d_s) float32 on the model's device, right-padded
  torch::Tensor mask;                // (B, T) int64, 1 = real token
  std::vector<int64_t> text_tokens;  // per text, after truncation
  std::vector<bool> truncated;       // per text: longer than max_text_tokens
};

class SenderPipeline {
 public:
  // Loads model, tokenizer and sender half. Errors from the loaders pass through (NOT_FOUND,
  // INVALID_ARGUMENT, DATA_LOSS); FAILED_PRECONDITION when the model is not the bridge's sender
  // (hidden size, layer count, weights digest).
  static absl::StatusOr<std::unique_ptr<SenderPipeline>> Load(const SenderPipelineOptions& options);

  // Builds a pipeline from parts already in memory (training, tests). Same checks as Load except
  // the weights digest, which is checked only when the bridge records one.
  static absl::StatusOr<std::unique_ptr<SenderPipeline>> Create(
      std::shared_ptr<const DecoderModel> model, std::shared_ptr<const Tokenizer> tokenizer,
      SenderHalf half);

  // Encodes a batch of texts (one sender forward for all, right-padded). Result i belongs to
  // texts[i]. INVALID_ARGUMENT for an empty batch, an empty text or invalid UTF-8 (naming the
  // index); INTERNAL when LibTorch fails.
  absl::StatusOr<std::vector<EncodedText>> Encode(const std::vector<std::string>& texts) const;

  // Encode for texts of unrelated callers (the sender node's dynamic batcher): every text that
  // tokenizes runs in one sender forward; answers[i] is texts[i]'s soft tokens or its own error
  // (INVALID_ARGUMENT for an empty text or invalid UTF-8), which fails no other text. The outer
  // status fails only for an empty batch or a LibTorch failure of the whole batch. A text's soft
  // tokens do not depend on its batch-mates (right padding under causal attention, masked in the
  // resampler) beyond floating-point rounding.
  absl::StatusOr<std::vector<absl::StatusOr<EncodedText>>> EncodeEach(
      const std::vector<std::string>& texts) const;

  // The first half of Encode: tokenize (with special tokens, truncated to max_text_tokens) and run
  // the sender to the source layer, without gradients. Errors as Encode. Training uses it to feed
  // the encoder with gradients.
  absl::StatusOr<SourceStates> ReadSourceStates(const std::vector<std::string>& texts) const;

  // Greedy continuation of `prompt` (tokenized with special tokens) for at most max_new_tokens
  // (1..1024), stopping at the model's EOS. INVALID_ARGUMENT for a bad budget or input.
  absl::StatusOr<GeneratedText> GenerateText(const std::string& prompt, int max_new_tokens) const;

  // One request of a generation batch.
  struct GenerationRequest {
    std::string prompt;
    int max_new_tokens = 0;  // 1..1024
  };
  // GenerateText for prompts of unrelated callers (the sender node's dynamic batcher): the prompts
  // that tokenize run as one left-padded batch with one KV cache, for the largest budget among them;
  // each row is cut at its own budget or EOS, which gives the tokens it gets alone (greedy decoding,
  // masked padding) up to floating-point rounding. answers[i] is requests[i]'s text or its own error
  // (INVALID_ARGUMENT for a bad budget or input), which fails no other request; the outer status
  // fails only for an empty batch or a LibTorch failure of the whole batch. generate_ms is the
  // batch's wall time.
  absl::StatusOr<std::vector<absl::StatusOr<GeneratedText>>> GenerateEach(
      const std::vector<GenerationRequest>& requests) const;

  const BridgeMetadata& bridge() const { return half_.metadata; }
  // The loaded model's identity: the bridge's sender_model with the measured weights digest.
  const BridgeModelId& model_id() const { return model_id_; }
  const DecoderModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // CUDA graphs the encode path holds (one per batch and token bucket met; 0 off CUDA or without graphs).
  int num_encode_graphs() const { return encode_graphs_ == nullptr ? 0 : encode_graphs_->num_graphs(); }

  // Pads every encode batch to the CUDA graphs' buckets (rows to a power of two, tokens to
  // GraphTokenBucket's buckets), as the pipeline does by itself where the model replays graphs;
  // tests turn it on elsewhere to check that padding changes no soft token.
  void PadToGraphBucketsForTesting() { pad_to_graph_buckets_ = true; }

 private:
  SenderPipeline() = default;

  // A text's token ids: with special tokens, truncated to max_text_tokens. INVALID_ARGUMENT for an
  // empty text, invalid UTF-8 or no tokens (naming `index`).
  struct TextIds {
    std::vector<int32_t> ids;
    bool truncated = false;
  };
  absl::StatusOr<TextIds> Tokenize(const std::string& text, size_t index) const;
  // The sender forward for tokenized texts (ReadSourceStates after tokenizing).
  absl::StatusOr<SourceStates> SourceStatesOf(const std::vector<TextIds>& texts) const;
  // Encodes tokenized texts as one batch: forward to the source layer, normaliser, resampler — one
  // CUDA-graph replay where the model uses graphs. Result i belongs to texts[i] (its own error for
  // non-finite soft tokens); the outer status fails for an out-of-vocabulary id or a LibTorch failure
  // of the whole batch. `start` dates encode_ms.
  absl::StatusOr<std::vector<absl::StatusOr<EncodedText>>> EncodeIds(
      const std::vector<TextIds>& texts, std::chrono::steady_clock::time_point start) const;

  // Encode graphs kept per node: 7 batch buckets x the 8 token buckets of a 64-token limit
  // (GraphTokenBucket); a longer limit keeps the first 64 buckets it meets and runs the rest eagerly.
  static constexpr int kMaxEncodeGraphs = 64;

  std::shared_ptr<const DecoderModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  // mutable: LibTorch modules have non-const forward(); the encoder is only read after Load.
  mutable SenderHalf half_;
  BridgeModelId model_id_;
  std::unique_ptr<GraphedFunction> encode_graphs_;  // EncodeIds as CUDA graphs (eager off CUDA)
  bool pad_to_graph_buckets_ = false;               // pad batches to the graphs' buckets
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_SENDER_PIPELINE_H_
