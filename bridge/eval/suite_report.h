// Aggregates the run results of the evaluation suite (run_result.h) into the report of
// docs/results.md: per task and direction, every method's accuracy as mean ± std over seeds, the
// issue's targets (bridge >= 98% of the sender probe, within 1 pp of prompt tuning) checked with
// their numbers, the capacity-matched references (sender ceiling, receiver self-bridge, tuned
// probe, prompt tuning, text relay, zero-shot raw and calibrated) beside the bridge's raw and
// calibrated accuracy with the target bridge >= ceiling - 2 pp, and a paragraph stating how each
// reference is defined; wire dtype and size, per-message latency and training cost (a learning
// rate chosen at an edge of its grid is flagged). A cell with no run is
// "—" and a note says so; a failed run (RunResult::error) becomes a note with its error.
// No LibTorch. Pure function; thread-safe.
#ifndef LIP_BRIDGE_EVAL_SUITE_REPORT_H_
#define LIP_BRIDGE_EVAL_SUITE_REPORT_H_

#include <string>
#include <vector>

#include "bridge/eval/results_writer.h"
#include "bridge/eval/run_result.h"

namespace lip {

struct SuiteReportOptions {
  std::vector<std::string> preamble;  // paragraphs before the tables (how it was run, machine)
  std::vector<std::string> problems;  // result files that could not be read, shown as notes
  // Runs that only add rows to the latency table (their accuracies are not aggregated): e.g. the
  // shipped bridges re-measured on another device, such as the CPU after a GPU suite. Their test
  // accuracy and example count appear in the row, since they may use a subset of the test split.
  std::vector<RunResult> latency_only;
};

ResultsReport BuildSuiteReport(const std::vector<RunResult>& results, const SuiteReportOptions& options);

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_SUITE_REPORT_H_
