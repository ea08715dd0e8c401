#include "bridge/latent/statistical_normalizer.h"

#include "absl/strings/str_cat.h"

namespace lip {
namespace {

absl::Status CheckStatesAndMask(const torch::Tensor& states, const torch::Tensor& mask,
                                int64_t width) {
  if (states.dim() != 3 || states.size(2) != width) {
    return absl::InvalidArgumentError(absl::StrCat("states have shape ",
                                                   c10::str(states.sizes()),
                                                   ", expected (batch, tokens, ", width, ")"));
  }
  if (mask.dim() != 2 || mask.size(0) != states.size(0) || mask.size(1) != states.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("mask has shape ", c10::str(mask.sizes()),
                                                   ", expected (", states.size(0), ", ",
                                                   states.size(1), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

StatisticalNormalizerImpl::StatisticalNormalizerImpl(int64_t width, double epsilon)
    : width_(width), epsilon_(epsilon) {
  mean_ = register_buffer("mean", torch::zeros({width}));
  std_ = register_buffer("std", torch::ones({width}));
}

torch::Tensor StatisticalNormalizerImpl::forward(const torch::Tensor& states,
                                                 const torch::Tensor& mask) const {
  torch::Tensor normalized =
      (states - mean_.to(states.dtype())) / std_.clamp_min(epsilon_).to(states.dtype());
  return normalized * mask.unsqueeze(-1).to(states.dtype());
}

absl::Status StatisticalNormalizerImpl::SetStatistics(const torch::Tensor& mean,
                                                      const torch::Tensor& std) {
  if (mean.dim() != 1 || mean.size(0) != width_ || std.dim() != 1 || std.size(0) != width_) {
    return absl::InvalidArgumentError(absl::StrCat("normalizer statistics have shapes ",
                                                   c10::str(mean.sizes()), " and ",
                                                   c10::str(std.sizes()), ", expected (", width_,
                                                   ")"));
  }
  if (!torch::isfinite(mean).all().item<bool>() || !torch::isfinite(std).all().item<bool>() ||
      (std < 0).any().item<bool>()) {
    return absl::InvalidArgumentError("normalizer statistics contain a non-finite mean or std < 0");
  }
  torch::NoGradGuard no_grad;
  mean_.copy_(mean.to(torch::kFloat32));
  std_.copy_(std.to(torch::kFloat32));
  return absl::OkStatus();
}

NormalizerStatistics::NormalizerStatistics(int64_t width)
    : width_(width),
      sum_(torch::zeros({width}, torch::kFloat64)),
      sum_sq_(torch::zeros({width}, torch::kFloat64)) {}

absl::Status NormalizerStatistics::Add(const torch::Tensor& states, const torch::Tensor& mask) {
  absl::Status status = CheckStatesAndMask(states, mask, width_);
  if (!status.ok()) return status;
  torch::NoGradGuard no_grad;
  torch::Tensor real = mask.to(torch::kBool).reshape({-1});
  torch::Tensor tokens = states.detach().to(torch::kCPU, torch::kFloat64).reshape({-1, width_});
  tokens = tokens.index({real.to(torch::kCPU)});
  count_ += tokens.size(0);
  sum_ += tokens.sum(0);
  sum_sq_ += tokens.square().sum(0);
  return absl::OkStatus();
}

absl::Status NormalizerStatistics::Finish(torch::Tensor* mean, torch::Tensor* std) const {
  if (count_ == 0) {
    return absl::FailedPreconditionError("normalizer statistics saw no tokens");
  }
  torch::Tensor m = sum_ / static_cast<double>(count_);
  torch::Tensor var = (sum_sq_ / static_cast<double>(count_) - m.square()).clamp_min(0.0);
  *mean = m.to(torch::kFloat32);
  *std = var.sqrt().to(torch::kFloat32);
  return absl::OkStatus();
}

}  // namespace lip
