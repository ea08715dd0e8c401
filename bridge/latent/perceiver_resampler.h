// The Perceiver resampler of the sender half (Jaegle et al. 2021; Alayrac et al. 2022,
// "Flamingo"): M learned queries read a variable-length sequence of sender states and become
// M soft tokens of width d_z, the Z that goes on the wire.
//
//   x = queries                                   (M, width), shared by every input
//   s = input_projection(states)                  (B, T, width)
//   per block:  x = x + cross_attention(ln(x), ln(s), key mask)
//               x = x + self_attention(ln(x))
//               x = x + ffn(ln(x))                 ffn = Linear -> GELU -> Linear
//   Z = output_projection(ln(x))                   (B, M, d_z)
//
// Padded sender positions get exactly zero attention weight, so padding a text never changes its
// Z (beyond float rounding of differently shaped matmuls).
//
// Parameters are named as the checkpoint stores them: "queries", "input_projection.weight",
// "blocks.0.cross_attention.query.weight", ..., "output_norm.weight", "output_projection.weight".
// Thread-safety: forward() is safe from several threads when no one trains the module.
#ifndef LIP_BRIDGE_LATENT_PERCEIVER_RESAMPLER_H_
#define LIP_BRIDGE_LATENT_PERCEIVER_RESAMPLER_H_

#include <cstdint>

#include "bridge/latent/bridge_config.h"
#include "bridge/torch_compat.h"

namespace lip {

// Multi-head scaled dot-product attention from `x` (queries) to `context` (keys and values),
// with an optional key mask. No dropout, no bias on the projections.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t width, int64_t num_heads);

  // x (B, Q, width), context (B, K, width), key_mask (B, K) with 1 = attend, or undefined for
  // all keys. Every row of key_mask must have at least one 1 (callers check). On CUDA with
  // LibTorch 2.x the scores, mask, softmax and weighted sum run as one fused kernel
  // (scaled_dot_product_attention) unless set_fused(false); elsewhere as separate ops. Both are
  // the same math; they differ by float rounding.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context,
                        const torch::Tensor& key_mask = torch::Tensor());

  void set_fused(bool fused) { fused_ = fused; }
  bool fused() const { return fused_; }

 private:
  int64_t num_heads_;
  int64_t head_dim_;
  bool fused_ = true;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, output_{nullptr};
};
TORCH_MODULE(Attention);

// One (cross-attention, self-attention, GELU FFN) block, pre-LayerNorm with residuals.
class PerceiverBlockImpl : public torch::nn::Module {
 public:
  PerceiverBlockImpl(int64_t width, int64_t num_heads, int64_t ffn_multiplier);

  // latents (B, M, width), states (B, T, width), mask (B, T).
  torch::Tensor forward(const torch::Tensor& latents, const torch::Tensor& states,
                        const torch::Tensor& mask);

 private:
  torch::nn::LayerNorm cross_norm_{nullptr}, states_norm_{nullptr};
  Attention cross_attention_{nullptr};
  torch::nn::LayerNorm self_norm_{nullptr};
  Attention self_attention_{nullptr};
  torch::nn::LayerNorm ffn_norm_{nullptr};
  torch::nn::Linear ffn_up_{nullptr}, ffn_down_{nullptr};
};
TORCH_MODULE(PerceiverBlock);

class PerceiverResamplerImpl : public torch::nn::Module {
 public:
  // `config` must be valid (ValidateBridgeMetadata); weights are randomly initialized from the
  // current torch seed.
  explicit PerceiverResamplerImpl(const PerceiverConfig& config);

  // states (B, T, input_width), mask (B, T) with 1 = real token -> Z (B, M, output_width).
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& mask);

  const PerceiverConfig& config() const { return config_; }

  // Every attention's AttentionImpl::set_fused (default true): false keeps the separate ops on
  // CUDA too, for A/B timings and parity checks.
  void SetFusedAttention(bool fused);

 private:
  PerceiverConfig config_;
  torch::Tensor queries_;  // (M, width)
  torch::nn::Linear input_projection_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm output_norm_{nullptr};
  torch::nn::Linear output_projection_{nullptr};
};
TORCH_MODULE(PerceiverResampler);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_PERCEIVER_RESAMPLER_H_
