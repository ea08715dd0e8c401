#include "bridge/model/kv_cache.h"

#include <algorithm>

namespace lip {

void KvCache::Reset() {
  keys_.clear();
  values_.clear();
  mask_ = torch::Tensor();
  next_positions_ = torch::Tensor();
  may_have_padding_ = false;
}

namespace {

// Writes `step` [B,H,T,D] at positions [past, past+T) of `buffer` (growing it when full) and returns
// the valid part [B,H,past+T,D]. Without gradients the buffer is reused in place.
torch::Tensor AppendInPlace(torch::Tensor& buffer, int64_t past, const torch::Tensor& step) {
  const int64_t T = step.size(2), needed = past + T;
  if (torch::GradMode::is_enabled()) {  // autograd: concatenate, never overwrite
    buffer = past > 0 ? torch::cat({buffer.narrow(2, 0, past), step}, /*dim=*/2) : step;
    return buffer;
  }
  if (!buffer.defined() || buffer.size(2) < needed || buffer.size(0) != step.size(0) ||
      buffer.scalar_type() != step.scalar_type()) {
    const int64_t capacity = std::max({needed, KvCache::kMinCapacity,
                                       buffer.defined() ? 2 * buffer.size(2) : int64_t{0}});
    torch::Tensor grown =
        torch::empty({step.size(0), step.size(1), capacity, step.size(3)}, step.options());
    if (past > 0) grown.narrow(2, 0, past).copy_(buffer.narrow(2, 0, past));
    buffer = grown;
  }
  buffer.narrow(2, past, T).copy_(step);
  return buffer.narrow(2, 0, needed);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> KvCache::AppendLayer(int64_t layer, const torch::Tensor& keys,
                                                             const torch::Tensor& values) {
  if (static_cast<int64_t>(keys_.size()) <= layer) {
    keys_.resize(layer + 1);
    values_.resize(layer + 1);
  }
  const int64_t past = length();
  return {AppendInPlace(keys_[layer], past, keys), AppendInPlace(values_[layer], past, values)};
}

void KvCache::CommitStep(const torch::Tensor& step_mask, const torch::Tensor& next_positions,
                         bool step_may_have_padding) {
  may_have_padding_ = may_have_padding_ || step_may_have_padding;
  mask_ = mask_.defined() ? torch::cat({mask_, step_mask}, /*dim=*/1) : step_mask;
  next_positions_ = next_positions;
}

torch::Tensor KvCache::layer_keys(int64_t layer) const {
  if (layer < 0 || layer >= num_layers() || !keys_[layer].defined()) return torch::Tensor();
  return keys_[layer].narrow(2, 0, length());
}

torch::Tensor KvCache::layer_values(int64_t layer) const {
  if (layer < 0 || layer >= num_layers() || !values_[layer].defined()) return torch::Tensor();
  return values_[layer].narrow(2, 0, length());
}

void KvCache::RepeatInterleave(int64_t n) {
  if (empty() || n == 1) return;
  const int64_t L = length();
  for (auto& k : keys_) {
    if (k.defined()) k = k.narrow(2, 0, L).repeat_interleave(n, /*dim=*/0);
  }
  for (auto& v : values_) {
    if (v.defined()) v = v.narrow(2, 0, L).repeat_interleave(n, /*dim=*/0);
  }
  mask_ = mask_.repeat_interleave(n, /*dim=*/0);
  next_positions_ = next_positions_.repeat_interleave(n, /*dim=*/0);
}

}  // namespace lip
