// ClassificationScores: the confusion counts of one classifier on one test set, and what is
// reported from them — accuracy, and macro-F1 (the unweighted mean over the task's labels of each
// label's F1; a label never predicted and never gold counts 0, as does a 0/0 precision or recall),
// which, unlike accuracy, exposes a constant predictor (SST-2's "always positive" scores 50.9 %
// accuracy but 0.337 macro-F1). No LibTorch. Not thread-safe.
#ifndef LIP_BRIDGE_EVAL_CLASSIFICATION_SCORES_H_
#define LIP_BRIDGE_EVAL_CLASSIFICATION_SCORES_H_

#include <cstdint>
#include <vector>

namespace lip {

class ClassificationScores {
 public:
  explicit ClassificationScores(int num_labels);

  // One example: its gold label and the prediction, both in [0, num_labels); others are ignored
  // and counted in invalid().
  void Add(int64_t gold, int64_t predicted);

  int64_t examples() const { return examples_; }
  int64_t invalid() const { return invalid_; }
  double Accuracy() const;  // 0 without examples
  double MacroF1() const;   // 0 without examples
  // F1 of one label.
  double F1(int label) const;

 private:
  const int num_labels_;
  std::vector<int64_t> true_positive_, gold_count_, predicted_count_;
  int64_t examples_ = 0, correct_ = 0, invalid_ = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_CLASSIFICATION_SCORES_H_
