// The train-until loop shared by the references trained in place of the bridge (PromptTuner,
// SenderCeiling): steps until `until_step`, reports each step, and evaluates on `validation` every
// config.eval_every steps and at the last one, appending {"step", "accuracy"} to `history`, and
// stops early on validation (config.early_stopping_patience, bridge/train/early_stopping.h),
// restoring the best weights. Trainer needs step(), Step() -> StatusOr<StepResult>,
// Evaluate(const TextDataset&) -> StatusOr<EvaluationResult> and TrainableParameters() ->
// std::vector<torch::Tensor>. Returns the last step's result. `progress` may be null.
#ifndef LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_
#define LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/early_stopping.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "common/wire/status_macros.h"
#include "nlohmann/json.hpp"

namespace lip {

template <typename Trainer>
absl::StatusOr<StepResult> TrainWithValidation(Trainer& trainer, int64_t until_step, ProgressBar* progress,
                                               const TrainConfig& config, const TextDataset& validation,
                                               nlohmann::json* history) {
  StepResult last;
  last.step = trainer.step();
  TrainingReporter reporter(progress, config.log_every);
  EarlyStopping early_stopping(config.early_stopping_patience);
  while (trainer.step() < until_step) {
    LIP_ASSIGN_OR_RETURN(last, trainer.Step());
    const int64_t step = trainer.step();
    reporter.Step(step, last.loss, last.accuracy, last.learning_rate);
    const bool last_step = step == until_step;
    if (!validation.examples.empty() && ((config.eval_every > 0 && step % config.eval_every == 0) || last_step)) {
      LIP_ASSIGN_OR_RETURN(EvaluationResult eval, trainer.Evaluate(validation));
      history->push_back({{"step", step}, {"accuracy", eval.accuracy}});
      reporter.Validation(step, eval.accuracy, eval.examples);
      if (early_stopping.Observe(step, eval.accuracy, trainer.TrainableParameters())) break;
    }
  }
  early_stopping.RestoreBest(trainer.step(), trainer.TrainableParameters(), history);
  reporter.Finish();
  return last;
}

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_TRAINING_LOOP_H_
