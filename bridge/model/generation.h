// Autoregressive decoding with a DecoderModel: greedy or temperature/top-p sampling, stop
// tokens, batches, KV cache.
#ifndef LIP_BRIDGE_MODEL_GENERATION_H_
#define LIP_BRIDGE_MODEL_GENERATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"

namespace lip {

struct GenerationOptions {
  int64_t max_new_tokens = 32;
  bool do_sample = false;   // false: greedy (argmax, lowest id wins ties)
  double temperature = 1.0; // sampling only; must be > 0
  double top_p = 1.0;       // sampling only; nucleus mass in (0, 1]
  uint64_t seed = 0;        // sampling RNG (a CPU generator): same seed, same model -> same tokens
  std::vector<int64_t> stop_token_ids;  // a row ends after emitting one of these (kept in its output)
  int64_t pad_token_id = 0;             // fed for rows that already ended
  bool use_cache = true;  // false: recompute the whole sequence every step (the reference the cache must equal)
  // After the prefill, decode on a static-shape cache (bridge/model/static_decoder.h) even where the
  // model does not use CUDA graphs (with them it is used whenever a decoder is free). For tests.
  bool force_static_cache = false;
};

struct GenerationResult {
  std::vector<std::vector<int64_t>> tokens;  // per row: the new tokens, the stop token included when hit
  std::vector<bool> stopped;                 // per row: ended on a stop token (else on max_new_tokens)
  bool static_cache = false;  // the steps after the prefill ran on a static-shape cache
  bool graph_replayed = false;  // ... and replayed a captured CUDA graph
};

// Continues a prompt given as embeddings [B,T,H] (so soft tokens may be spliced in) with an
// optional [B,T] mask (left padding allowed). Runs under NoGradGuard. INVALID_ARGUMENT for bad
// options or inputs (naming the value), INTERNAL when LibTorch fails. Thread-compatible: the
// model may be shared, each call uses its own cache.
absl::StatusOr<GenerationResult> Generate(const DecoderModel& model, const torch::Tensor& inputs_embeds,
                                          const torch::Tensor& attention_mask, const GenerationOptions& options);

// Same from token ids [B,T] (int64, any device).
absl::StatusOr<GenerationResult> GenerateFromIds(const DecoderModel& model, const torch::Tensor& ids,
                                                 const torch::Tensor& attention_mask,
                                                 const GenerationOptions& options);

// One decoding decision on fp32 logits [B,V] -> [B] int64 ids (CPU). Greedy when
// !options.do_sample; otherwise softmax(logits / temperature), restricted to the smallest set of
// tokens whose mass reaches top_p, sampled with `generator`. Exposed for tests.
torch::Tensor ChooseNextTokens(const torch::Tensor& logits, const GenerationOptions& options,
                               at::Generator& generator);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_GENERATION_H_
