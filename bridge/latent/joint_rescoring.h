// Joint rescoring: one message answered by several receivers (one sender encoder fanned out to
// bridges for different receiver models, each answering over the same label set) becomes one
// joint answer. Each receiver's label log-probabilities are first normalised over the label set
// (log-softmax: p(label | the labels), so a receiver whose raw scores are all low — a longer
// verbalizer, another tokenizer — weighs as much as the others), then summed per label: the
// product of the receivers' label distributions, i.e. a product of experts. The joint answer is
// the label with the highest sum (the first on ties).
//
// No LibTorch, no state: safe from any thread.
#ifndef LIP_BRIDGE_LATENT_JOINT_RESCORING_H_
#define LIP_BRIDGE_LATENT_JOINT_RESCORING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

struct JointLabelScores {
  int64_t label_index = -1;         // argmax of log_probs
  std::vector<double> log_probs;    // per label: the sum of the receivers' normalised log-probs
  std::vector<double> probabilities;  // per label: exp(log_probs) renormalised over the labels
};

// `per_receiver[r][k]`: receiver r's log-probability of label k (raw, as ReceiverAnswer's
// label_log_probs or ClassifyResult.log_probs). INVALID_ARGUMENT naming the value when there is no
// receiver, a receiver has no labels, the receivers' label counts differ or a score is NaN or
// +inf, or every score of a receiver is -inf.
absl::StatusOr<JointLabelScores> RescoreJointly(const std::vector<std::vector<float>>& per_receiver);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_JOINT_RESCORING_H_
