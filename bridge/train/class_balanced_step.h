// The opening of a step for every trainer that draws class-balanced batches of labelled texts
// (the bridge, the joint receivers, the sender ceiling, prompt tuning): the step's number, its
// batch and its learning rate, taken in one order so that every such trainer starts a step alike.
//
// BeginClassBalancedStep guarantees, in this order: the batch is the next config.batch_size
// indices of `sampler` (advancing it; its state is what a checkpoint saves) gathered from
// `train`; then the learning rate of step steps_done + 1 is set on every parameter group of
// `optimizer` (ApplyLearningRateSchedule, bridge/train/learning_rate_schedule.h). It draws no
// LibTorch random numbers and touches nothing else. The trainer's step counter is the caller's:
// it advances it once its step succeeds.
//
// Not thread-safe (the sampler and optimizer are mutated).
#ifndef LIP_BRIDGE_TRAIN_CLASS_BALANCED_STEP_H_
#define LIP_BRIDGE_TRAIN_CLASS_BALANCED_STEP_H_

#include <cstdint>

#include "bridge/torch_compat.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"

namespace lip {

struct ClassBalancedStep {
  int64_t step = 0;          // the step being taken (1-based): steps_done + 1
  double learning_rate = 0;  // the schedule's rate for it, already set on the optimizer
  TextBatch batch;           // its texts and their labels
};

ClassBalancedStep BeginClassBalancedStep(const TrainConfig& config, int64_t steps_done, ClassBalancedSampler& sampler,
                                         const TextDataset& train, torch::optim::Optimizer& optimizer);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_CLASS_BALANCED_STEP_H_
