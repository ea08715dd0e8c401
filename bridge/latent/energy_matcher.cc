#include "bridge/latent/energy_matcher.h"

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<EnergyReference> MeasureEnergy(const torch::Tensor& embedding_weight) {
  if (!embedding_weight.defined() || embedding_weight.dim() != 2 ||
      embedding_weight.numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedding matrix has shape ",
        embedding_weight.defined() ? c10::str(embedding_weight.sizes()) : std::string("(undefined)"),
        ", expected a non-empty (vocab, width)"));
  }
  torch::NoGradGuard no_grad;
  torch::Tensor w = embedding_weight.detach().to(torch::kFloat64);
  EnergyReference reference;
  reference.reference_energy = w.norm(2, 1).mean().item<double>();
  reference.reference_rms = w.square().mean().sqrt().item<double>();
  if (!std::isfinite(reference.reference_energy) || !std::isfinite(reference.reference_rms)) {
    return absl::InvalidArgumentError("embedding matrix contains NaN or infinity");
  }
  return reference;
}

torch::Tensor EnergyMatcher::Match(const torch::Tensor& v) const {
  switch (config_.mode) {
    case EnergyMode::kNone:
      return v;
    case EnergyMode::kPerVectorNorm:
      return v * (config_.reference_energy / (v.norm(2, -1, /*keepdim=*/true) + config_.epsilon));
    case EnergyMode::kRms:
      return v * (config_.reference_rms /
                  (v.square().mean(-1, /*keepdim=*/true).sqrt() + config_.epsilon));
  }
  return v;
}

}  // namespace lip
