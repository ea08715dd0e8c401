#include "bridge/train/training_loop.h"

#include "absl/strings/str_cat.h"
#include "bridge/train/early_stopping.h"
#include "common/wire/status_macros.h"

namespace lip {

absl::Status RunTrainingLoop(const TrainConfig& config, ProgressBar* progress, const TrainingLoop& loop) {
  if (loop.refuse_beyond_config_steps && loop.until_step > config.steps) {
    return absl::InvalidArgumentError(absl::StrCat("until_step ", loop.until_step, " exceeds steps ", config.steps));
  }
  TrainingReporter reporter(progress, config.log_every);
  EarlyStopping early_stopping(config.early_stopping_patience);
  nlohmann::json best_details = nlohmann::json::object();  // the best validation's extra fields
  int64_t step = loop.steps_done;
  bool stop = false;
  while (step < loop.until_step && !stop) {
    LIP_ASSIGN_OR_RETURN(const LoopStep done, loop.step());
    step = done.step;
    reporter.Step(step, done.loss, done.accuracy, done.learning_rate);
    if (loop.validate && ((config.eval_every > 0 && step % config.eval_every == 0) || step == loop.final_step)) {
      LIP_ASSIGN_OR_RETURN(LoopValidation validation, loop.validate(step));
      nlohmann::json entry = {{"step", step}, {"accuracy", validation.accuracy}};
      for (auto it = validation.details.begin(); it != validation.details.end(); ++it) entry[it.key()] = *it;
      loop.history().push_back(std::move(entry));
      reporter.Validation(step, validation.accuracy, validation.examples);
      stop = early_stopping.Observe(step, validation.accuracy, loop.parameters());
      if (early_stopping.best_step() == step) best_details = std::move(validation.details);
    }
    if (loop.after_step) LIP_RETURN_IF_ERROR(loop.after_step(step));
  }
  // Only a run that stopped early or reached its end keeps the best weights; a run paused before
  // final_step (for a checkpoint) goes on from where it is.
  if ((stop || step == loop.final_step) && loop.history) {
    nlohmann::json& history = loop.history();
    const size_t entries = history.size();
    early_stopping.RestoreBest(step, loop.parameters(), &history);
    if (history.size() > entries) {  // restored: the entry of the weights kept carries their details
      for (auto it = best_details.begin(); it != best_details.end(); ++it) history.back()[it.key()] = *it;
    }
  }
  reporter.Finish();
  return absl::OkStatus();
}

}  // namespace lip
