// The train-until loop every trainer of bridge/train/ runs (the bridge and receiver self-bridge,
// the joint receivers, the sender ceiling, prompt tuning, continuation): the trainer supplies its
// step, its validation and its trained tensors; the loop owns the order of events around them, so
// that every trainer steps, reports, validates and stops early the same way.
//
// RunTrainingLoop(config, progress, loop) guarantees, in this order:
//   - INVALID_ARGUMENT, before any step, when loop.refuse_beyond_config_steps and
//     loop.until_step > config.steps;
//   - while the trainer's step (loop.steps_done at the start, then each step's LoopStep::step) is
//     below loop.until_step: one loop.step(); the step reported to `progress` (TrainingReporter:
//     its loss, accuracy and learning rate); then, when loop.validate is set and the step is a
//     multiple of config.eval_every (> 0) or is loop.final_step, one loop.validate(), whose
//     {"step", "accuracy"} plus its `details` are appended to loop.history(), reported, and
//     observed by an EarlyStopping(config.early_stopping_patience) (bridge/train/early_stopping.h)
//     with loop.parameters(); then loop.after_step() when set (e.g. a training checkpoint); then
//     the loop ends if early stopping said stop;
//   - when it stopped early or the step is loop.final_step, and loop.history is set: the best
//     validation's weights are copied back into loop.parameters() and the restore entry appended to
//     loop.history() (EarlyStopping::RestoreBest: nothing when off or nothing was observed), and
//     that entry carries the best validation's `details` too; a run paused before final_step (a
//     checkpointed bridge) keeps its current weights;
//   - the reporter is finished.
// Early stopping sees only this call's validations. The first error of a hook is returned at
// once (nothing restored, the reporter not finished). The loop draws no random numbers and calls
// no hook but these, so a trainer's random draws are its steps' and validations' alone.
// loop.history() is called only to append an entry or to restore, so a trainer whose history is a
// key of a JSON object creates it at those points only.
//
// TrainWithValidation(trainer, ...) fills the trainer's side of a TrainingLoop for the trainers
// whose steps return a StepResult and whose Evaluate returns an EvaluationResult
// (bridge/train/bridge_trainer.h: BridgeTrainer, SenderCeiling, PromptTuner) and runs it.
//
// Not thread-safe; the hooks run on the caller's thread.
#ifndef LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_
#define LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/torch_compat.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "common/wire/status_macros.h"
#include "nlohmann/json.hpp"

namespace lip {

// What one step tells the loop.
struct LoopStep {
  int64_t step = 0;      // the step just completed (1-based)
  double loss = 0;       // reported
  double accuracy = 0;   // reported (0 for a trainer without one)
  double learning_rate = 0;
};

// What one validation tells the loop.
struct LoopValidation {
  double accuracy = 0;   // recorded, reported and watched by early stopping
  int64_t examples = 0;  // reported
  nlohmann::json details = nlohmann::json::object();  // extra fields of the history entry
};

// One trainer's part of a run. step is required; validate and after_step may be empty;
// parameters and history are required with validate, and history may be empty only without it
// (then nothing is recorded or restored).
struct TrainingLoop {
  int64_t steps_done = 0;  // the trainer's step when the call starts
  int64_t until_step = 0;  // steps run while the trainer's step is below it
  int64_t final_step = 0;  // the run's last step: always validated; reaching it restores the best
  bool refuse_beyond_config_steps = true;  // until_step > config.steps is INVALID_ARGUMENT

  std::function<absl::StatusOr<LoopStep>()> step;                       // one optimization step
  std::function<absl::StatusOr<LoopValidation>(int64_t step)> validate;  // empty: never validates
  std::function<absl::Status(int64_t step)> after_step;                 // empty: nothing
  std::function<std::vector<torch::Tensor>()> parameters;  // the tensors early stopping keeps
  std::function<nlohmann::json&()> history;                // the validation history (a JSON array)
};

// Runs `loop` as described above. `progress` may be null (silent).
absl::Status RunTrainingLoop(const TrainConfig& config, ProgressBar* progress, const TrainingLoop& loop);

// RunTrainingLoop with loop.steps_done, step, validate (when `validation` has examples: the
// trainer's Evaluate(validation)) and parameters taken from `trainer`, which needs step(),
// Step() -> StatusOr<R> (R with step, loss, accuracy, learning_rate), Evaluate(const TextDataset&)
// -> StatusOr<{accuracy, examples}> and TrainableParameters(). until_step, final_step,
// refuse_beyond_config_steps, history and after_step are the caller's. Returns the last step's
// result (only its step, the trainer's, when none ran).
template <typename Trainer>
auto TrainWithValidation(Trainer& trainer, const TrainConfig& config, const TextDataset& validation,
                         TrainingLoop loop, ProgressBar* progress)
    -> absl::StatusOr<typename decltype(trainer.Step())::value_type> {
  typename decltype(trainer.Step())::value_type last;
  last.step = trainer.step();
  loop.steps_done = trainer.step();
  loop.step = [&]() -> absl::StatusOr<LoopStep> {
    LIP_ASSIGN_OR_RETURN(last, trainer.Step());
    return LoopStep{last.step, last.loss, last.accuracy, last.learning_rate};
  };
  if (!validation.examples.empty()) {
    loop.validate = [&](int64_t) -> absl::StatusOr<LoopValidation> {
      LIP_ASSIGN_OR_RETURN(const auto eval, trainer.Evaluate(validation));
      LoopValidation result;
      result.accuracy = eval.accuracy;
      result.examples = eval.examples;
      return result;
    };
  }
  loop.parameters = [&trainer] { return trainer.TrainableParameters(); };
  LIP_RETURN_IF_ERROR(RunTrainingLoop(config, progress, loop));
  return last;
}

// TrainWithValidation for a trainer whose run ends at until_step (validated there, the best
// weights restored there), which may go beyond config.steps, and whose validations go to
// `history` (the sender ceiling, prompt tuning).
template <typename Trainer>
auto TrainUntilWithValidation(Trainer& trainer, const TrainConfig& config, const TextDataset& validation,
                              nlohmann::json* history, int64_t until_step, ProgressBar* progress) {
  TrainingLoop loop;
  loop.until_step = until_step;
  loop.final_step = until_step;
  loop.refuse_beyond_config_steps = false;
  loop.history = [history]() -> nlohmann::json& { return *history; };
  return TrainWithValidation(trainer, config, validation, std::move(loop), progress);
}

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_
