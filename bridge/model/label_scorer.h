// Classification by label likelihood: log p(label tokens | primed prefix) for every label.
#ifndef LIP_BRIDGE_MODEL_LABEL_SCORER_H_
#define LIP_BRIDGE_MODEL_LABEL_SCORER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"

namespace lip {

struct LabelScoringOptions {
  // false: sum of the label tokens' log-probabilities; true: their mean (per-token average).
  bool length_normalize = false;
};

// For a prefix given as embeddings [B,T,H] + mask [B,T] (left padding allowed, soft tokens
// allowed) and labels given as token-id sequences, returns [B, num_labels] fp32
// log p(label_l | prefix_b). The prefix runs once; its KV cache is shared by all labels, which
// are scored together in one batched forward (right-padded to the longest label).
// Differentiable with respect to prefix_embeds (callers that do not train hold a NoGradGuard).
// INVALID_ARGUMENT for no labels, an empty label or an id outside the vocabulary (naming it),
// plus DecoderModel::CheckForwardInput's errors; INTERNAL when LibTorch fails.
absl::StatusOr<torch::Tensor> ScoreLabels(const DecoderModel& model, const torch::Tensor& prefix_embeds,
                                          const torch::Tensor& prefix_mask,
                                          const std::vector<std::vector<int64_t>>& labels,
                                          const LabelScoringOptions& options = {});

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_LABEL_SCORER_H_
