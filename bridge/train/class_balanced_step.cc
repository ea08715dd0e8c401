#include "bridge/train/class_balanced_step.h"

#include "bridge/train/learning_rate_schedule.h"

namespace lip {

ClassBalancedStep BeginClassBalancedStep(const TrainConfig& config, int64_t steps_done, ClassBalancedSampler& sampler,
                                         const TextDataset& train, torch::optim::Optimizer& optimizer) {
  ClassBalancedStep next;
  next.batch = GatherExamples(train, sampler.Next(config.batch_size));
  next.step = steps_done + 1;
  next.learning_rate = ApplyLearningRateSchedule(config, next.step, optimizer);
  return next;
}

}  // namespace lip
