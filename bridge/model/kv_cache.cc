#include "bridge/model/kv_cache.h"

namespace lip {

void KvCache::Reset() {
  keys_.clear();
  values_.clear();
  mask_ = torch::Tensor();
  next_positions_ = torch::Tensor();
}

std::pair<torch::Tensor, torch::Tensor> KvCache::AppendLayer(int64_t layer, const torch::Tensor& keys,
                                                             const torch::Tensor& values) {
  if (static_cast<int64_t>(keys_.size()) <= layer) {
    keys_.resize(layer + 1);
    values_.resize(layer + 1);
  }
  if (keys_[layer].defined()) {
    keys_[layer] = torch::cat({keys_[layer], keys}, /*dim=*/2);
    values_[layer] = torch::cat({values_[layer], values}, /*dim=*/2);
  } else {
    keys_[layer] = keys;
    values_[layer] = values;
  }
  return {keys_[layer], values_[layer]};
}

void KvCache::CommitStep(const torch::Tensor& step_mask, const torch::Tensor& next_positions) {
  mask_ = mask_.defined() ? torch::cat({mask_, step_mask}, /*dim=*/1) : step_mask;
  next_positions_ = next_positions;
}

void KvCache::RepeatInterleave(int64_t n) {
  if (empty() || n == 1) return;
  for (auto& k : keys_) {
    if (k.defined()) k = k.repeat_interleave(n, /*dim=*/0);
  }
  for (auto& v : values_) {
    if (v.defined()) v = v.repeat_interleave(n, /*dim=*/0);
  }
  mask_ = mask_.repeat_interleave(n, /*dim=*/0);
  next_positions_ = next_positions_.repeat_interleave(n, /*dim=*/0);
}

}  // namespace lip
