#include "bridge/latent/sender_encoder.h"

#include "absl/strings/str_cat.h"

namespace lip {

SenderEncoderImpl::SenderEncoderImpl(const SenderHalfConfig& config) : config_(config) {
  normalizer_ = register_module(
      "normalizer",
      StatisticalNormalizer(config.perceiver.input_width, config.normalizer_epsilon));
  perceiver_ = register_module("perceiver", PerceiverResampler(config.perceiver));
}

torch::Tensor SenderEncoderImpl::forward(const torch::Tensor& states, const torch::Tensor& mask) {
  return perceiver_->forward(normalizer_->forward(states, mask), mask);
}

absl::StatusOr<torch::Tensor> SenderEncoderImpl::Encode(const torch::Tensor& states,
                                                        const torch::Tensor& mask) {
  const int64_t width = config_.perceiver.input_width;
  if (!states.defined() || states.dim() != 3 || states.size(2) != width) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender states have shape ",
                     states.defined() ? c10::str(states.sizes()) : std::string("(undefined)"),
                     ", expected (batch, tokens, ", width, ")"));
  }
  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != states.size(0) ||
      mask.size(1) != states.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sender mask has shape ", mask.defined() ? c10::str(mask.sizes()) : std::string("(undefined)"),
        ", expected (", states.size(0), ", ", states.size(1), ")"));
  }
  try {
    torch::Tensor real_tokens = mask.to(torch::kBool).sum(1);
    if ((real_tokens == 0).any().item<bool>()) {
      return absl::InvalidArgumentError("a text in the batch has no tokens to encode");
    }
    if (!torch::isfinite(states).all().item<bool>()) {
      return absl::InvalidArgumentError("sender states contain NaN or infinity");
    }
    return forward(states, mask);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender encoder failed: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
