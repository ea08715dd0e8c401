// ProgressMeter: a progress line for long evaluations that count items (examples, messages):
//   lip-eval: ag_news zero-shot 1216/7600 (16.0 %)  38.2 ex/s  ETA 2m47s
// printed when at least `every` has passed since the last line, and once more by Finish(). Plain
// lines (no terminal control), so logs of detached runs read the same. No LibTorch. Not
// thread-safe: one meter per loop.
#ifndef LIP_BRIDGE_EVAL_PROGRESS_METER_H_
#define LIP_BRIDGE_EVAL_PROGRESS_METER_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace lip {

class ProgressMeter {
 public:
  // `what` names the loop ("ag_news zero-shot"); `total` items are expected (> 0).
  ProgressMeter(std::string what, int64_t total, std::FILE* out = stderr,
                std::chrono::milliseconds every = std::chrono::seconds(10));

  // `done` items are finished (cumulative).
  void Update(int64_t done);
  // Prints the final line (items done, rate, time taken).
  void Finish();

  // The line for the given state; exposed for tests.
  static std::string FormatLine(const std::string& what, int64_t done, int64_t total,
                                double elapsed_seconds);

 private:
  using Clock = std::chrono::steady_clock;
  const std::string what_;
  const int64_t total_;
  std::FILE* out_;
  const std::chrono::milliseconds every_;
  const Clock::time_point start_;
  Clock::time_point last_line_;
  int64_t done_ = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_PROGRESS_METER_H_
