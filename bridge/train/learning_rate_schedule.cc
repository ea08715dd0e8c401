#include "bridge/train/learning_rate_schedule.h"

#include <algorithm>
#include <cmath>

namespace lip {

double WarmupCosineLearningRate(const TrainConfig& config, int64_t step) {
  const double base = config.learning_rate;
  if (config.warmup_steps > 0 && step <= config.warmup_steps) {
    return base * double(step) / double(config.warmup_steps);
  }
  const double span = std::max<int64_t>(1, config.steps - config.warmup_steps);
  const double progress = std::clamp(double(step - config.warmup_steps) / span, 0.0, 1.0);
  const double floor = config.min_learning_rate_ratio;
  return base * (floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

void SetAdamWLearningRate(torch::optim::Optimizer& optimizer, double rate) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
  }
}

double ApplyLearningRateSchedule(const TrainConfig& config, int64_t step, torch::optim::Optimizer& optimizer) {
  const double rate = WarmupCosineLearningRate(config, step);
  SetAdamWLearningRate(optimizer, rate);
  return rate;
}

}  // namespace lip
