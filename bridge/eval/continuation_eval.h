// Generation over the wire, measured: how much of a passage's prefix reaches the receiver through
// a continuation bridge's soft tokens.
//
// For every held-out passage the receiver scores the same K continuation tokens (the first K
// receiver tokens of the true continuation, teacher-forced) after three frames built by the bridge's
// ContextPrimer:
//   none: [BOS, context, anchor]                       (no prefix at all)
//   soft: [BOS, context, soft tokens, anchor]          (the sender's prefix through the bridge,
//                                                       SenderPipeline::Encode -> AdaptSoftTokens)
//   text: [BOS, context, prefix tokens, anchor]        (the prefix as receiver text)
// and reports the mean NLL per continuation token of each and the fraction of the gap closed,
//   (NLL_none - NLL_soft) / (NLL_none - NLL_text).
// The soft tokens are trained on this loss, so part of what they close may be a learned prompt
// (style, genre) that helps any passage rather than information about this one. A fourth condition
// separates the two: mismatched, [BOS, context, soft tokens of ANOTHER passage of the batch, anchor]
// (the batch rolled by half its size, so a passage gets one that is not its neighbour in the file,
// though it may come from the same article; batches of one passage are left out of it), and
//   passage_gap_closed = (NLL_mismatched - NLL_soft) / (NLL_none - NLL_text)
// is the part of the gap that only this passage's own soft tokens close. Also reported: greedy
// continuations of a few passages through ReceiverPipeline::Answer (soft tokens,
// Task.generate, exactly as a receiver node answers) and AnswerText (the text prefix).
//
// Thread-safety: reads the pipelines only; call from one thread per pipeline pair.
#ifndef LIP_BRIDGE_EVAL_CONTINUATION_EVAL_H_
#define LIP_BRIDGE_EVAL_CONTINUATION_EVAL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/train/continuation_trainer.h"
#include "nlohmann/json.hpp"

namespace lip {

struct ContinuationSample {
  std::string prefix;
  std::string true_continuation;  // the passage's next words (the first ~K tokens' worth)
  std::string soft_continuation;  // greedy, from the soft tokens
  std::string text_continuation;  // greedy, from the text prefix
};

struct ContinuationEvaluation {
  int64_t passages = 0;
  int64_t tokens_per_passage = 0;  // K
  double nll_none = 0, nll_soft = 0, nll_text = 0;  // mean per continuation token (nats)
  double gap_closed = 0;  // (nll_none - nll_soft) / (nll_none - nll_text); NaN when the gap is 0
  int64_t mismatched_passages = 0;  // passages scored with another passage's soft tokens
  double nll_mismatched = 0;
  double passage_gap_closed = 0;    // (nll_mismatched - nll_soft) / (nll_none - nll_text)
  std::vector<ContinuationSample> samples;
};

struct ContinuationEvalOptions {
  int64_t batch_size = 16;
  int64_t samples = 4;         // passages (the first ones) with greedy continuations
  int64_t sample_tokens = 24;  // new tokens per greedy continuation
  // Called after each batch with (passages done, total); may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

// Evaluates `examples` (MakeContinuationExamples with the receiver's tokenizer). The pipelines must
// hold the two halves of one bridge. INVALID_ARGUMENT for empty input or examples of unequal K.
absl::StatusOr<ContinuationEvaluation> EvaluateContinuation(const SenderPipeline& sender,
                                                            const ReceiverPipeline& receiver,
                                                            const std::vector<ContinuationExample>& examples,
                                                            const ContinuationEvalOptions& options = {});

nlohmann::json ContinuationEvaluationToJson(const ContinuationEvaluation& evaluation);

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_CONTINUATION_EVAL_H_
