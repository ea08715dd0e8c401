// The sender half of a Perceiver bridge as one trainable module: statistical normalizer ->
// Perceiver resampler. Input: the sender model's hidden states at the source layer and their
// padding mask; output: Z (B, M, d_z), the soft tokens that go on the wire.
//
// Parameter/buffer names (checkpoint "sender.safetensors"): "normalizer.mean", "normalizer.std",
// "perceiver.*".
// Thread-safety: forward() is safe from several threads when no one trains the module.
#ifndef LIP_BRIDGE_LATENT_SENDER_ENCODER_H_
#define LIP_BRIDGE_LATENT_SENDER_ENCODER_H_

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/perceiver_resampler.h"
#include "bridge/latent/statistical_normalizer.h"
#include "bridge/torch_compat.h"

namespace lip {

class SenderEncoderImpl : public torch::nn::Module {
 public:
  // `config` must be valid; weights random from the current torch seed, normalizer = identity.
  explicit SenderEncoderImpl(const SenderHalfConfig& config);

  // states (B, T, d_s), mask (B, T) with 1 = real token -> Z (B, M, d_z).
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& mask);

  // Checked entry point for callers outside training: INVALID_ARGUMENT for wrong shapes, a row
  // of the mask without any real token, or non-finite states; LibTorch errors become INTERNAL.
  absl::StatusOr<torch::Tensor> Encode(const torch::Tensor& states, const torch::Tensor& mask);

  StatisticalNormalizer& normalizer() { return normalizer_; }
  PerceiverResampler& perceiver() { return perceiver_; }
  const SenderHalfConfig& config() const { return config_; }

 private:
  SenderHalfConfig config_;
  StatisticalNormalizer normalizer_{nullptr};
  PerceiverResampler perceiver_{nullptr};
};
TORCH_MODULE(SenderEncoder);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_SENDER_ENCODER_H_
