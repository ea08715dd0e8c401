// The adapter of the receiver half: maps soft tokens of width d_z into the receiver's embedding
// space.
//
//   x = layer_norm(z)
//   y = down(gelu(up(x))) + skip(x)          skip: Linear without bias (a learned shortcut)
//   y = c * tanh(y / c)                      tanh clipping (c = tanh_clip; off when 0)
//   y = s * y                                learned scale s (init 1), regularized by (s - 1)^2
//
// Energy matching (energy_matcher.h) follows. Parameter names (checkpoint "receiver.safetensors"):
// "adapter.norm.*", "adapter.up.*", "adapter.down.*", "adapter.skip.weight", "adapter.scale".
// Thread-safety: forward() is safe from several threads when no one trains the module.
#ifndef LIP_BRIDGE_LATENT_RECEIVER_ADAPTER_H_
#define LIP_BRIDGE_LATENT_RECEIVER_ADAPTER_H_

#include "bridge/latent/bridge_config.h"
#include "bridge/torch_compat.h"

namespace lip {

class ReceiverAdapterImpl : public torch::nn::Module {
 public:
  // `config` must be valid; weights random from the current torch seed.
  explicit ReceiverAdapterImpl(const AdapterConfig& config);

  // z (B, M, d_z) -> (B, M, output_width).
  torch::Tensor forward(const torch::Tensor& z);

  // (s - 1)^2 as a scalar tensor (zero when the scale is not learned).
  torch::Tensor ScaleRegularizer() const;
  // The current value of s (1 when not learned).
  double scale_value() const;

  const AdapterConfig& config() const { return config_; }

 private:
  AdapterConfig config_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear up_{nullptr}, down_{nullptr}, skip_{nullptr};
  torch::Tensor scale_;  // scalar parameter, only when learned_scale
};
TORCH_MODULE(ReceiverAdapter);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_RECEIVER_ADAPTER_H_
