#include "bridge/latent/joint_rescoring.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<JointLabelScores> RescoreJointly(const std::vector<std::vector<float>>& per_receiver) {
  if (per_receiver.empty()) return absl::InvalidArgumentError("joint rescoring needs at least one receiver's scores");
  const size_t labels = per_receiver[0].size();
  if (labels == 0) return absl::InvalidArgumentError("receiver 0 scored no labels");
  JointLabelScores joint;
  joint.log_probs.assign(labels, 0.0);
  for (size_t r = 0; r < per_receiver.size(); ++r) {
    const std::vector<float>& scores = per_receiver[r];
    if (scores.size() != labels) {
      return absl::InvalidArgumentError(absl::StrCat("receiver ", r, " scored ", scores.size(),
                                                     " labels, receiver 0 scored ", labels));
    }
    double max_score = -std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < labels; ++k) {
      if (std::isnan(scores[k]) || scores[k] == std::numeric_limits<float>::infinity()) {
        return absl::InvalidArgumentError(absl::StrCat("receiver ", r, " label ", k, " has log-probability ",
                                                       scores[k]));
      }
      max_score = std::max(max_score, double(scores[k]));
    }
    if (!std::isfinite(max_score)) {
      return absl::InvalidArgumentError(absl::StrCat("receiver ", r, " gives every label probability 0"));
    }
    double sum = 0;
    for (size_t k = 0; k < labels; ++k) sum += std::exp(double(scores[k]) - max_score);
    const double log_normaliser = max_score + std::log(sum);
    for (size_t k = 0; k < labels; ++k) joint.log_probs[k] += double(scores[k]) - log_normaliser;
  }
  joint.label_index = std::max_element(joint.log_probs.begin(), joint.log_probs.end()) - joint.log_probs.begin();
  const double best = joint.log_probs[joint.label_index];
  double total = 0;
  joint.probabilities.resize(labels);
  for (size_t k = 0; k < labels; ++k) total += joint.probabilities[k] = std::exp(joint.log_probs[k] - best);
  for (double& p : joint.probabilities) p /= total;
  return joint;
}

}  // namespace lip
