// The learning-rate schedule every LIP trainer follows (bridge, prompt tuning): linear warm-up over
// config.warmup_steps, then a cosine decay to config.min_learning_rate_ratio * learning_rate at
// config.steps. One definition, so that a bridge and the prompt-tuning baseline it is compared
// with are trained on the same schedule.
#ifndef LIP_BRIDGE_TRAIN_LEARNING_RATE_SCHEDULE_H_
#define LIP_BRIDGE_TRAIN_LEARNING_RATE_SCHEDULE_H_

#include <cstdint>

#include "bridge/torch_compat.h"
#include "bridge/train/train_config.h"

namespace lip {

// The rate for 1-based `step`.
double WarmupCosineLearningRate(const TrainConfig& config, int64_t step);

// Sets every parameter group of an AdamW optimizer to `rate`.
void SetAdamWLearningRate(torch::optim::Optimizer& optimizer, double rate);

// The start of every trainer's step: sets the schedule's rate for 1-based `step` on `optimizer`
// (WarmupCosineLearningRate, then SetAdamWLearningRate) and returns it.
double ApplyLearningRateSchedule(const TrainConfig& config, int64_t step, torch::optim::Optimizer& optimizer);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_LEARNING_RATE_SCHEDULE_H_
