#include "bridge/eval/progress_meter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "bridge/train/progress_bar.h"

namespace lip {

ProgressMeter::ProgressMeter(std::string what, int64_t total, std::FILE* out,
                             std::chrono::milliseconds every)
    : what_(std::move(what)),
      total_(std::max<int64_t>(1, total)),
      out_(out),
      every_(every),
      start_(Clock::now()),
      last_line_(start_) {}

std::string ProgressMeter::FormatLine(const std::string& what, int64_t done, int64_t total,
                                      double elapsed_seconds) {
  const double rate = elapsed_seconds > 0 ? done / elapsed_seconds : 0;
  const double eta = rate > 0 ? (total - done) / rate : -1;
  return absl::StrFormat("lip-eval: %s %d/%d (%.1f %%)  %.1f ex/s  ETA %s", what, done, total,
                         100.0 * done / std::max<int64_t>(1, total), rate, FormatDuration(eta));
}

void ProgressMeter::Update(int64_t done) {
  done_ = done;
  const Clock::time_point now = Clock::now();
  if (now - last_line_ < every_) return;
  last_line_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::fprintf(out_, "%s\n", FormatLine(what_, done_, total_, elapsed).c_str());
  std::fflush(out_);
}

void ProgressMeter::Finish() {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::fprintf(out_, "lip-eval: %s %lld/%lld done in %s (%.1f ex/s)\n", what_.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_),
               FormatDuration(elapsed).c_str(), elapsed > 0 ? done_ / elapsed : 0.0);
  std::fflush(out_);
}

}  // namespace lip
