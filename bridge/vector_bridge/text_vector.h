// One vector per text: a model's hidden state at a chosen layer, pooled over the text's tokens.
// This is the sender side of the single-vector bridge kinds (bottleneck adapter, dual translator)
// and the source of their training pairs (the same text through the sender and the receiver).
//
//   text -> tokenizer (special tokens as the model expects) -> model to `layer` -> pool -> [H]
//
// Thread-safety: free functions; the model and tokenizer may be shared between threads.
#ifndef LIP_BRIDGE_VECTOR_BRIDGE_TEXT_VECTOR_H_
#define LIP_BRIDGE_VECTOR_BRIDGE_TEXT_VECTOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/torch_compat.h"

namespace lip {

enum class VectorPooling {
  kMean,  // mean over the text's tokens (BOS included when the tokenizer adds one)
  kLast,  // the final token's state
};
// "mean" | "last".
const char* VectorPoolingName(VectorPooling pooling);
// Inverse of VectorPoolingName; INVALID_ARGUMENT naming the accepted spellings.
absl::StatusOr<VectorPooling> ParseVectorPooling(std::string_view name);

struct TextVectorOptions {
  // Hugging Face hidden_states index; negative counts from the end as in Python:
  // -1 = hidden_states[N] (after the final norm, the "last hidden state"),
  // -2 = hidden_states[N-1] (the residual stream entering the last block).
  int64_t layer = -1;
  VectorPooling pooling = VectorPooling::kMean;
  int64_t max_text_tokens = 128;  // longer texts keep their first max_text_tokens tokens
};

// Resolves options.layer against a model with `num_layers` blocks: a value in [0, num_layers].
// INVALID_ARGUMENT naming the layer when it is out of range.
absl::StatusOr<int64_t> ResolveHiddenStateLayer(int64_t layer, int64_t num_layers);

// Texts -> [N, H] fp32 on the CPU, one row per text, computed under NoGradGuard.
// INVALID_ARGUMENT for no texts, an empty text (no tokens), bad options or a bad layer;
// tokenizer errors pass through; INTERNAL when LibTorch fails.
absl::StatusOr<torch::Tensor> EncodeTextVectors(const DecoderModel& model, const Tokenizer& tokenizer,
                                                const std::vector<std::string>& texts,
                                                const TextVectorOptions& options);

}  // namespace lip

#endif  // LIP_BRIDGE_VECTOR_BRIDGE_TEXT_VECTOR_H_
