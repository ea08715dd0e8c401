// Energy matching of the receiver half: rescales each adapted soft token so its magnitude is the
// magnitude the receiver expects of an input embedding.
//
//   per_vector_norm:  v' = v * E_ref / (||v|| + eps)       E_ref = mean L2 norm of embedding rows
//   rms:              v' = v * rms_ref / (rms(v) + eps)    rms_ref = RMS of all embedding values
//   none:             v' = v
//
// Both references are measured on the receiver's (frozen) embedding matrix by MeasureEnergy.
// Stateless apart from its config; thread-safe.
#ifndef LIP_BRIDGE_LATENT_ENERGY_MATCHER_H_
#define LIP_BRIDGE_LATENT_ENERGY_MATCHER_H_

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/torch_compat.h"

namespace lip {

// E_ref and rms_ref of an embedding matrix (vocab, width).
struct EnergyReference {
  double reference_energy = 0;  // mean L2 norm of the rows
  double reference_rms = 0;     // RMS over all values
};
// INVALID_ARGUMENT for a matrix that is not 2-D, empty, or not finite.
absl::StatusOr<EnergyReference> MeasureEnergy(const torch::Tensor& embedding_weight);

class EnergyMatcher {
 public:
  // `config` must carry the reference of its mode (ValidateBridgeMetadata checks).
  explicit EnergyMatcher(const EnergyConfig& config) : config_(config) {}

  // v (..., width) -> same shape; differentiable.
  torch::Tensor Match(const torch::Tensor& v) const;

  const EnergyConfig& config() const { return config_; }

 private:
  EnergyConfig config_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_ENERGY_MATCHER_H_
