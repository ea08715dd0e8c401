// Blending injection: a translated vector v (dual_translator.h) enters the receiver not as a soft
// token but by blending into its residual stream,
//
//   h' = (1 - alpha) * h + alpha * v      (alpha = 0.3 by default)
//
// after each of the receiver's last `num_layers` blocks (3 by default), at the final
// `last_positions` positions of the prompt and at each of the first `decode_steps` generated
// tokens. It enters the model through the generic per-layer hook ForwardInput::after_layer
// (decoder_model.h, LayerHook): BlendHook below; the model runtime knows nothing of blending.
//
// The prompt is the priming frame without content, [BOS, prefix, anchor] (context_primer.h):
// everything the receiver learns about the message comes through the blend.
//
// Thread-safety: free functions; the model may be shared, every call uses its own state.
#ifndef LIP_BRIDGE_VECTOR_BRIDGE_BLEND_INJECTION_H_
#define LIP_BRIDGE_VECTOR_BRIDGE_BLEND_INJECTION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"
#include "bridge/model/generation.h"
#include "bridge/torch_compat.h"

namespace lip {

struct BlendConfig {
  double alpha = 0.3;          // in [0, 1]; 0 leaves the receiver unchanged, 1 replaces h by v
  int64_t num_layers = 3;      // blend after the last num_layers blocks (clamped to the model's depth)
  int64_t last_positions = 1;  // prompt positions blended, counted from the end (clamped to the prompt)
  int64_t decode_steps = 4;    // generated tokens blended at the start of decoding
};
// INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateBlendConfig(const BlendConfig& config);

// One step's blend: after block i (0-based) for every i in `layers`, positions [begin, end) of the
// step's T inputs become (1 - alpha) * h + alpha * vector. The blended states are what later blocks
// and hidden_states see.
struct LayerBlend {
  std::vector<int64_t> layers;  // 0-based block indices
  int64_t begin = 0;            // positions within this step, 0 <= begin <= end <= T
  int64_t end = 0;
  double alpha = 0.0;
  torch::Tensor vector;         // [B,H] in the model dtype/device
};

// The ForwardInput::after_layer hook that applies `*blend`. It reads `*blend` at every forward
// (a change to it shows in the next forward); `blend` must outlive every forward that uses the hook.
LayerHook BlendHook(const LayerBlend* blend);

// The LayerBlend for a step of `step_length` positions, blending positions
// [step_length - last_positions, step_length) after the last num_layers blocks.
// vectors [B, H] are moved to the model's device/dtype. INVALID_ARGUMENT for a bad config or
// vectors whose width is not the model's hidden size.
absl::StatusOr<LayerBlend> MakeLayerBlend(const DecoderModel& model, const BlendConfig& config,
                                          const torch::Tensor& vectors, int64_t step_length,
                                          int64_t last_positions);

// log p(label | prompt with v blended) for every message and label: prompt_ids is the frame
// (the same for all messages), vectors [B, H]; returns [B, num_labels] fp32 (sum of the label
// tokens' log-probabilities). Each label is scored in one forward over [prompt, label tokens];
// only prompt positions are blended. Differentiable in `vectors`. INVALID_ARGUMENT for an empty
// prompt, no labels, an empty label or an id outside the vocabulary (naming it).
absl::StatusOr<torch::Tensor> ScoreLabelsWithBlend(const DecoderModel& model,
                                                   const std::vector<int32_t>& prompt_ids,
                                                   const torch::Tensor& vectors,
                                                   const std::vector<std::vector<int64_t>>& labels,
                                                   const BlendConfig& config = {});

// Greedy decoding after the prompt with v blended into the prompt's final positions and the
// first decode_steps generated tokens. vectors [B, H]; stop tokens and max_new_tokens from
// `options` (sampling is refused: INVALID_ARGUMENT). Runs under NoGradGuard.
absl::StatusOr<GenerationResult> GenerateWithBlend(const DecoderModel& model,
                                                   const std::vector<int32_t>& prompt_ids,
                                                   const torch::Tensor& vectors, const BlendConfig& config,
                                                   const GenerationOptions& options);

}  // namespace lip

#endif  // LIP_BRIDGE_VECTOR_BRIDGE_BLEND_INJECTION_H_
