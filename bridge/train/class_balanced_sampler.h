// Class-balanced sampling of training examples: every batch draws the classes in turn (in a
// freshly shuffled class order each round), so minority classes are seen as often as majority
// ones; a class that runs out of examples is reshuffled and reused within the epoch. Every epoch
// is reshuffled. The order is a pure function of (seed, epoch), so the sampler's whole state is
// (epoch, position) and a resumed run continues exactly where it stopped.
//
// One epoch = num_classes * (size of the largest class) draws. No LibTorch. Not thread-safe.
#ifndef LIP_BRIDGE_TRAIN_CLASS_BALANCED_SAMPLER_H_
#define LIP_BRIDGE_TRAIN_CLASS_BALANCED_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

struct SamplerState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t position = 0;  // draws already taken from this epoch's order
};

class ClassBalancedSampler {
 public:
  // labels[i] = class of example i, in [0, num_classes). INVALID_ARGUMENT when a class has no
  // example or a label is out of range.
  static absl::StatusOr<ClassBalancedSampler> Create(const std::vector<int32_t>& labels,
                                                     int32_t num_classes, uint64_t seed);

  // The next `count` example indices (crossing into the next epoch when needed).
  std::vector<int64_t> Next(int64_t count);

  const SamplerState& state() const { return state_; }
  // Restores a saved state. INVALID_ARGUMENT when the position is outside the epoch.
  absl::Status Restore(const SamplerState& state);

  int64_t epoch_length() const { return epoch_length_; }

 private:
  ClassBalancedSampler() = default;
  void BuildEpochOrder();

  std::vector<std::vector<int64_t>> by_class_;
  int64_t epoch_length_ = 0;
  SamplerState state_;
  std::vector<int64_t> order_;  // this epoch's draws
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_CLASS_BALANCED_SAMPLER_H_
