// Decoding steps over a KV cache whose shapes never change, so that on CUDA each step is one
// CUDA-graph replay instead of ~40 kernel launches per block.
//
// A decoder serves one bucket: the batch rounded up to a power of two (at most 64) and a fixed
// number of positions, the prompt plus the new tokens rounded up to a multiple of 128 (at most
// 2048, and within every sliding window of the model so no window ever cuts in). Its buffers hold
// per layer keys and values [Bb, kv_heads, C, D], a key mask [Bb, C], the next position id of
// each row and the next free column, all on the model's device. A step writes the new token's
// K/V at that column (index_copy with a device index: no host synchronisation), marks it valid,
// attends over all C columns with the mask, and advances the column and positions on the device.
// Extra rows (B < Bb) attend to one zero key and are cut off.
//
// On CUDA with DecoderModel::uses_cuda_graphs, the first step of a new decoder runs eagerly (it
// initialises cuBLAS and friends), the second is captured and every later step of every later
// generation in the bucket replays that graph. Elsewhere (the CPU; tests) the same steps run
// eagerly, which is what lets tests check the static-cache arithmetic against the growing cache.
//
// A decoder serves one generation at a time; AcquireStaticDecoder returns nullptr when its bucket
// is busy (or the shapes do not fit), and the caller decodes with a growing KvCache instead. At
// most 8 decoders per model.
#ifndef LIP_BRIDGE_MODEL_STATIC_DECODER_H_
#define LIP_BRIDGE_MODEL_STATIC_DECODER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "bridge/model/decoder_model.h"
#include "bridge/model/kv_cache.h"
#include "bridge/torch_compat.h"

namespace lip {

// The buffers (and on CUDA the captured step) of one bucket. Owned by the model's pool.
struct StaticDecoderBuffers;

// A lease on one bucket's decoder for one generation: Load once after the prefill, then Step per
// token. Not thread-safe; the lease is released on destruction.
class StaticDecodeSession {
 public:
  ~StaticDecodeSession();
  StaticDecodeSession(const StaticDecodeSession&) = delete;
  StaticDecodeSession& operator=(const StaticDecodeSession&) = delete;

  // Copies a prefilled cache (B rows, L positions, every layer) into the buffers. The cache must
  // hold the batch and at most the positions the decoder was acquired for.
  void Load(const KvCache& cache);

  // One decoding step: `embeds` [B,1,H] (the model dtype, on its device) of the newest tokens ->
  // fp32 logits [B,V] of the next ones. The cache advances by one position.
  torch::Tensor Step(const torch::Tensor& embeds);

  bool graph_replayed() const { return graph_replayed_; }  // some step replayed a CUDA graph

 private:
  friend std::unique_ptr<StaticDecodeSession> AcquireStaticDecoder(const DecoderModel&, int64_t, int64_t, bool);
  StaticDecodeSession(const DecoderModel& model, StaticDecoderBuffers* buffers, std::unique_lock<std::mutex> lease,
                      int64_t batch);
  void RunStep();  // the step on the buffers, eagerly (also what a capture records)

  const DecoderModel& model_;
  StaticDecoderBuffers* buffers_;
  std::unique_lock<std::mutex> lease_;
  int64_t batch_;
  int64_t loaded_length_ = 0;
  int64_t steps_ = 0;
  bool graph_replayed_ = false;
};

// A decoder for `batch` rows and up to `positions` cached positions (prompt + new tokens), or
// nullptr when none applies: the model does not use CUDA graphs and `force` is false, the bucket
// would exceed 64 rows or 2048 positions or a sliding window, 8 buckets exist already, or this
// bucket's decoder is serving another generation.
std::unique_ptr<StaticDecodeSession> AcquireStaticDecoder(const DecoderModel& model, int64_t batch, int64_t positions,
                                                          bool force);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_STATIC_DECODER_H_
