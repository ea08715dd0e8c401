#include "bridge/latent/receiver_adapter.h"

namespace lip {

ReceiverAdapterImpl::ReceiverAdapterImpl(const AdapterConfig& config) : config_(config) {
  norm_ = register_module("norm",
                          torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.input_width})));
  up_ = register_module("up", torch::nn::Linear(config.input_width, config.hidden_width));
  down_ = register_module("down", torch::nn::Linear(config.hidden_width, config.output_width));
  skip_ = register_module(
      "skip",
      torch::nn::Linear(torch::nn::LinearOptions(config.input_width, config.output_width).bias(false)));
  if (config.learned_scale) {
    scale_ = register_parameter("scale", torch::ones({}));
  }
}

torch::Tensor ReceiverAdapterImpl::forward(const torch::Tensor& z) {
  torch::Tensor x = norm_->forward(z);
  torch::Tensor y = down_->forward(torch::gelu(up_->forward(x))) + skip_->forward(x);
  if (config_.tanh_clip > 0) {
    y = config_.tanh_clip * torch::tanh(y / config_.tanh_clip);
  }
  if (scale_.defined()) y = scale_ * y;
  return y;
}

torch::Tensor ReceiverAdapterImpl::ScaleRegularizer() const {
  if (!scale_.defined()) return torch::zeros({});
  return (scale_ - 1.0).square();
}

double ReceiverAdapterImpl::scale_value() const {
  return scale_.defined() ? scale_.item<double>() : 1.0;
}

}  // namespace lip
