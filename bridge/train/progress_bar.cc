#include "bridge/train/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace lip {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(seconds + 0.5);
  if (s < 60) return absl::StrFormat("%ds", s);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

ProgressBar::ProgressBar(int64_t first_step, int64_t total_steps, std::FILE* out, int64_t plain_every)
    : first_step_(first_step),
      total_steps_(total_steps),
      out_(out),
      plain_every_(std::max<int64_t>(1, plain_every)),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::FormatLine(int64_t step, int64_t total_steps, double loss, double accuracy,
                                    double learning_rate, double steps_per_second, int width) {
  const double fraction = total_steps > 0 ? std::clamp(double(step) / total_steps, 0.0, 1.0) : 1.0;
  const int filled = int(fraction * width);
  std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
  const double eta = steps_per_second > 0 ? (total_steps - step) / steps_per_second : -1;
  return absl::StrFormat("%s step %d/%d  loss %.4f  acc %.3f  lr %.1e  %.2f it/s  ETA %s", bar, step,
                         total_steps, loss, accuracy, learning_rate, steps_per_second,
                         FormatDuration(eta));
}

void ProgressBar::Update(int64_t step, double loss, double accuracy, double learning_rate) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? (step - first_step_) / elapsed : 0;
  const std::string line = FormatLine(step, total_steps_, loss, accuracy, learning_rate, rate);
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    line_open_ = true;
  } else if (step % plain_every_ == 0 || step == total_steps_) {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressBar::Note(const std::string& message) {
  if (line_open_) std::fprintf(out_, "\n");
  line_open_ = false;
  std::fprintf(out_, "%s\n", message.c_str());
  std::fflush(out_);
}

void ProgressBar::Finish() {
  if (line_open_) std::fprintf(out_, "\n");
  line_open_ = false;
  std::fflush(out_);
}

TrainingReporter::TrainingReporter(ProgressBar* progress, int64_t log_every)
    : progress_(progress), log_every_(std::max<int64_t>(1, log_every)) {}

void TrainingReporter::Step(int64_t step, double loss, double accuracy, double learning_rate) {
  if (progress_ == nullptr) return;
  loss_sum_ += loss;
  accuracy_sum_ += accuracy;
  ++since_log_;
  progress_->Update(step, loss_sum_ / since_log_, accuracy_sum_ / since_log_, learning_rate);
  if (step % log_every_ == 0) loss_sum_ = accuracy_sum_ = since_log_ = 0;
}

void TrainingReporter::Validation(int64_t step, double accuracy, int64_t examples) {
  if (progress_ == nullptr) return;
  progress_->Note(absl::StrFormat("step %d: validation accuracy %.4f on %d held-out training examples", step,
                                  accuracy, examples));
}

void TrainingReporter::Finish() {
  if (progress_ != nullptr) progress_->Finish();
}

}  // namespace lip
