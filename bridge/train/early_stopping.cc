#include "bridge/train/early_stopping.h"

namespace lip {

bool EarlyStopping::Observe(int64_t step, double accuracy, const std::vector<torch::Tensor>& parameters) {
  last_step_ = step;
  if (!enabled()) return false;
  if (accuracy > best_accuracy_) {
    best_accuracy_ = accuracy;
    best_step_ = step;
    evaluations_without_improvement_ = 0;
    torch::NoGradGuard no_grad;
    best_.clear();
    for (const torch::Tensor& p : parameters) best_.push_back(p.detach().clone());
    return false;
  }
  return ++evaluations_without_improvement_ >= patience_;
}

void EarlyStopping::RestoreBest(int64_t current_step, const std::vector<torch::Tensor>& parameters,
                                nlohmann::json* history) {
  if (!enabled() || best_step_ < 0 || (best_step_ == last_step_ && last_step_ == current_step)) return;
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters.size() && i < best_.size(); ++i) {
      torch::Tensor p = parameters[i];
      p.copy_(best_[i]);
    }
  }
  if (history != nullptr) {
    history->push_back({{"step", current_step}, {"accuracy", best_accuracy_}, {"restored_from_step", best_step_}});
  }
}

}  // namespace lip
