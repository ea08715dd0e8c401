#include "bridge/eval/classification_scores.h"

#include <algorithm>

namespace lip {

ClassificationScores::ClassificationScores(int num_labels)
    : num_labels_(std::max(0, num_labels)),
      true_positive_(num_labels_, 0),
      gold_count_(num_labels_, 0),
      predicted_count_(num_labels_, 0) {}

void ClassificationScores::Add(int64_t gold, int64_t predicted) {
  if (gold < 0 || gold >= num_labels_ || predicted < 0 || predicted >= num_labels_) {
    ++invalid_;
    return;
  }
  ++examples_;
  ++gold_count_[gold];
  ++predicted_count_[predicted];
  if (gold == predicted) {
    ++correct_;
    ++true_positive_[gold];
  }
}

double ClassificationScores::Accuracy() const {
  return examples_ > 0 ? static_cast<double>(correct_) / examples_ : 0;
}

double ClassificationScores::F1(int label) const {
  if (label < 0 || label >= num_labels_) return 0;
  const double tp = static_cast<double>(true_positive_[label]);
  // F1 = 2 tp / (2 tp + fp + fn) = 2 tp / (gold + predicted); 0 when both are 0.
  const double denominator = static_cast<double>(gold_count_[label] + predicted_count_[label]);
  return denominator > 0 ? 2 * tp / denominator : 0;
}

double ClassificationScores::MacroF1() const {
  if (examples_ == 0 || num_labels_ == 0) return 0;
  double sum = 0;
  for (int l = 0; l < num_labels_; ++l) sum += F1(l);
  return sum / num_labels_;
}

}  // namespace lip
