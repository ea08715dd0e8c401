// The training losses of a bridge. All take and return differentiable tensors.
#ifndef LIP_BRIDGE_TRAIN_LOSSES_H_
#define LIP_BRIDGE_TRAIN_LOSSES_H_

#include "bridge/torch_compat.h"

namespace lip {

// First-token objective: cross-entropy over the whole vocabulary of the answer's first token,
// predicted at the last primed position. next_token_logits (B, V), answer_first_tokens (B) int64.
torch::Tensor FirstTokenLoss(const torch::Tensor& next_token_logits,
                             const torch::Tensor& answer_first_tokens);

// Cross-entropy restricted to the labels: softmax over the logits of each label's first token.
// label_token_ids (C) int64, labels (B) int64 in [0, C).
torch::Tensor LabelCrossEntropy(const torch::Tensor& next_token_logits,
                                const torch::Tensor& label_token_ids, const torch::Tensor& labels);

// Diversity loss: mean cosine similarity between the mean-pooled soft tokens of different
// messages in the batch (z (B, M, d)); low when messages differ. Zero for B < 2.
torch::Tensor DiversityLoss(const torch::Tensor& z);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_LOSSES_H_
