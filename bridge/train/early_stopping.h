// Early stopping on validation for every trainer of the suite (the bridge, the receiver
// self-bridge, prompt tuning, the sender ceiling): each validation accuracy is observed with the
// trainable tensors it was measured on; a strictly better one is copied aside as the best. After
// `patience` evaluations in a row without improvement the trainer should stop; at the end the best
// weights are copied back, so the model kept is the one validation chose (never the test split).
// patience 0 turns it off: nothing is copied and the final weights stay.
//
// Ownership: holds copies of the best tensors; the live tensors stay the trainer's. Not
// thread-safe.
#ifndef LIP_BRIDGE_TRAIN_EARLY_STOPPING_H_
#define LIP_BRIDGE_TRAIN_EARLY_STOPPING_H_

#include <cstdint>
#include <vector>

#include "bridge/torch_compat.h"
#include "nlohmann/json.hpp"

namespace lip {

class EarlyStopping {
 public:
  explicit EarlyStopping(int64_t patience) : patience_(patience) {}

  // Records the validation accuracy at `step` of the model whose trainable tensors are
  // `parameters` (copied when it is the best so far). Returns true when training should stop.
  bool Observe(int64_t step, double accuracy, const std::vector<torch::Tensor>& parameters);

  // Copies the best weights back into `parameters` (the same tensors, in the same order, as
  // observed) when they are not the current ones, and appends to `history` the entry
  // {"step": current_step, "accuracy": best, "restored_from_step": best step} so that the last
  // entry is the accuracy of the weights kept. Nothing when off or nothing was observed.
  void RestoreBest(int64_t current_step, const std::vector<torch::Tensor>& parameters, nlohmann::json* history);

  bool enabled() const { return patience_ > 0; }
  int64_t best_step() const { return best_step_; }
  double best_accuracy() const { return best_accuracy_; }

 private:
  int64_t patience_;
  int64_t best_step_ = -1;
  int64_t last_step_ = -1;
  double best_accuracy_ = -1;
  int64_t evaluations_without_improvement_ = 0;
  std::vector<torch::Tensor> best_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_EARLY_STOPPING_H_
