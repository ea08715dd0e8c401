// Renders evaluation results as the Markdown of docs/results.md. lip-eval is the only writer of
// that file; nothing in it is typed by hand. No LibTorch. Pure functions, thread-safe.
#ifndef LIP_BRIDGE_EVAL_RESULTS_WRITER_H_
#define LIP_BRIDGE_EVAL_RESULTS_WRITER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lip {

// One measured quantity over one or more runs (seeds).
struct MeasuredValue {
  std::vector<double> runs;  // one value per run
  double mean() const;
  double std() const;  // population std; 0 for one run
  // "81.20 ± 0.35 (3 runs)" with `scale` applied (100 for percentages); "—" when empty.
  std::string Format(double scale, int decimals) const;
};

struct ResultsTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct ResultsReport {
  std::string title;
  std::vector<std::string> preamble;  // paragraphs before the tables (setup, command line, machine)
  std::vector<ResultsTable> tables;
  std::vector<std::string> notes;     // bullet points after the tables (what failed, what is missing)
};

std::string RenderResultsMarkdown(const ResultsReport& report);
// Writes the rendering through a temporary file renamed into place. INTERNAL on I/O errors.
absl::Status WriteResultsMarkdown(const std::string& path, const ResultsReport& report);

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_RESULTS_WRITER_H_
