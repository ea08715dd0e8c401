// Key/value cache of a DecoderModel for incremental decoding.
#ifndef LIP_BRIDGE_MODEL_KV_CACHE_H_
#define LIP_BRIDGE_MODEL_KV_CACHE_H_

#include <cstdint>
#include <vector>

#include "bridge/torch_compat.h"

namespace lip {

// Holds, per layer, the keys and values of every position seen so far
// ([B, num_key_value_heads, L, head_dim], after rope), the attention mask of those L
// positions ([B, L], 1 = real token, 0 = padding) and, per row, the position id the next
// real token gets (= number of real tokens so far; left padding does not advance it).
//
// DecoderModel::Forward appends to it when ForwardInput::cache points at it; the caller owns it.
// A cache belongs to one model and one batch; Reset() empties it. Not thread-safe.
//
// Storage: with gradients disabled (inference), each layer's keys/values live in a buffer with
// room to spare, written in place (capacity grows geometrically, at least kMinCapacity positions),
// so a decoding step costs one small copy per layer instead of re-concatenating the whole cache.
// With gradients enabled, the cache concatenates (autograd must see each step's tensors unchanged).
class KvCache {
 public:
  KvCache() = default;

  // Number of cached positions L (0 when empty).
  int64_t length() const { return mask_.defined() ? mask_.size(1) : 0; }
  int64_t batch_size() const { return mask_.defined() ? mask_.size(0) : 0; }
  bool empty() const { return length() == 0; }
  void Reset();

  // [B, L] int64 mask of the cached positions; undefined when empty.
  const torch::Tensor& attention_mask() const { return mask_; }
  // [B] int64 position of the next real token of each row; undefined when empty.
  const torch::Tensor& next_positions() const { return next_positions_; }

  // Layer `layer`'s cached keys / values [B, Hkv, L, D] (views into the buffers); undefined when
  // that layer holds none.
  torch::Tensor layer_keys(int64_t layer) const;
  torch::Tensor layer_values(int64_t layer) const;
  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }

  // Whether any cached position is padding, as far as the host knows without asking the device:
  // false only when every committed step's mask was known on the host to be all ones.
  bool may_have_padding() const { return may_have_padding_; }

  // Makes every row appear `n` times in a row (row b becomes rows b*n .. b*n+n-1), e.g. to
  // score several continuations of one primed prefix. Keeps autograd history.
  void RepeatInterleave(int64_t n);

  // Used by DecoderModel::Forward. `layer` in [0, num_layers); keys/values [B, Hkv, T, D].
  // Returns the full keys/values (cached + new) for attention.
  std::pair<torch::Tensor, torch::Tensor> AppendLayer(int64_t layer, const torch::Tensor& keys,
                                                      const torch::Tensor& values);
  // Used by DecoderModel::Forward once per step, after all layers: records the step's mask
  // [B, T] and advances next_positions. `step_may_have_padding`: false when the caller knows the
  // step's mask is all ones.
  void CommitStep(const torch::Tensor& step_mask, const torch::Tensor& next_positions,
                  bool step_may_have_padding = true);

  static constexpr int64_t kMinCapacity = 128;

 private:
  // Per layer: buffers [B, Hkv, capacity, D]; positions [0, length()) are valid.
  std::vector<torch::Tensor> keys_;
  std::vector<torch::Tensor> values_;
  torch::Tensor mask_;
  torch::Tensor next_positions_;
  bool may_have_padding_ = false;
};

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_KV_CACHE_H_
