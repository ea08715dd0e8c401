// Context priming: the receiver does not see soft tokens alone but inside a short frame of real
// tokens, laid out as
//
//   [BOS, context-prefix tokens, soft tokens (M), anchor tokens]
//
// The prefix tells the receiver what kind of content follows ("Article:"), the anchor asks the
// question whose answer we score or generate ("\nTopic:"). BOS is left out for models without one
// (Qwen2). The same frame wraps plain text for the text baselines: [BOS, prefix, text, anchor].
//
// Thread-safety: immutable after construction; all methods are const and thread-safe.
#ifndef LIP_BRIDGE_LATENT_CONTEXT_PRIMER_H_
#define LIP_BRIDGE_LATENT_CONTEXT_PRIMER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/torch_compat.h"

namespace lip {

// The token ids of one priming frame.
struct PrimingTokens {
  std::optional<int32_t> bos;  // nullopt: the model has no BOS
  std::vector<int32_t> prefix;
  std::vector<int32_t> anchor;
};

// Tokenizes prefix and anchor without special tokens; BOS from tokenizer.bos_id().
// Errors from the tokenizer pass through.
absl::StatusOr<PrimingTokens> TokenizePriming(const Tokenizer& tokenizer,
                                              const PrimingConfig& priming);

// The receiver's input for a batch of messages.
struct PrimedSequence {
  torch::Tensor inputs_embeds;   // (B, L, d), L = |BOS| + |prefix| + M + |anchor|
  torch::Tensor attention_mask;  // (B, L) int64 on the host, all ones (every row has the same layout)
  int64_t soft_begin = 0;        // soft tokens occupy positions [soft_begin, soft_end)
  int64_t soft_end = 0;
};

class ContextPrimer {
 public:
  explicit ContextPrimer(PrimingTokens tokens) : tokens_(std::move(tokens)) {}

  // soft (B, M, d) and the receiver's embedding matrix (V, d) -> the primed sequence. Gradients
  // flow into `soft`, not into the embedding. INVALID_ARGUMENT when widths differ or a priming id
  // is outside [0, V).
  absl::StatusOr<PrimedSequence> Prime(const torch::Tensor& soft,
                                       const torch::Tensor& embedding_weight) const;

  // [BOS, prefix, text_ids, anchor] as ids (the text baselines' frame).
  std::vector<int32_t> FrameText(const std::vector<int32_t>& text_ids) const;

  // Positions before / after the soft tokens.
  int64_t head_length() const { return (tokens_.bos ? 1 : 0) + int64_t(tokens_.prefix.size()); }
  int64_t tail_length() const { return int64_t(tokens_.anchor.size()); }
  const PrimingTokens& tokens() const { return tokens_; }

 private:
  PrimingTokens tokens_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_CONTEXT_PRIMER_H_
