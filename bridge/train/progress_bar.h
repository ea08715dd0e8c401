// A one-line training progress bar on a terminal:
//   [#########.............] step 120/400  loss 0.6931  acc 0.625  lr 3.0e-04  2.1 it/s  ETA 2m13s
// When the stream is not a terminal it prints the same line as a plain line every
// `plain_every` updates (and on the last step) instead of redrawing. No LibTorch. Not thread-safe.
#ifndef LIP_BRIDGE_TRAIN_PROGRESS_BAR_H_
#define LIP_BRIDGE_TRAIN_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace lip {

class ProgressBar {
 public:
  // Steps run from `first_step` (exclusive; a resumed run starts where it stopped) to `total_steps`.
  ProgressBar(int64_t first_step, int64_t total_steps, std::FILE* out = stderr, int64_t plain_every = 10);

  // Reports the state after `step`. Loss and accuracy are running means since the last Update.
  void Update(int64_t step, double loss, double accuracy, double learning_rate);
  // Prints a message on its own line without breaking the bar.
  void Note(const std::string& message);
  // Ends the bar's line.
  void Finish();

  // The text of the line for the given state (no terminal control codes); exposed for tests.
  static std::string FormatLine(int64_t step, int64_t total_steps, double loss, double accuracy,
                                double learning_rate, double steps_per_second, int width = 24);

 private:
  int64_t first_step_, total_steps_;
  std::FILE* out_;
  int64_t plain_every_;
  bool tty_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point start_;
};

// What a training loop reports: each step's loss and accuracy, averaged over the steps since the
// last plain-log line (every `log_every` steps), and validation results. Every trainer reports
// through it (RunTrainingLoop, bridge/train/training_loop.h) so their logs read the same.
// `progress` may be null (silent).
class TrainingReporter {
 public:
  TrainingReporter(ProgressBar* progress, int64_t log_every);
  void Step(int64_t step, double loss, double accuracy, double learning_rate);
  void Validation(int64_t step, double accuracy, int64_t examples);
  void Finish();

 private:
  ProgressBar* progress_;
  int64_t log_every_;
  double loss_sum_ = 0, accuracy_sum_ = 0;
  int64_t since_log_ = 0;
};

// "2m13s", "45s", "1h02m".
std::string FormatDuration(double seconds);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_PROGRESS_BAR_H_
