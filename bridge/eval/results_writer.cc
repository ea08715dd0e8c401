#include "bridge/eval/results_writer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lip {

double MeasuredValue::mean() const {
  if (runs.empty()) return 0;
  double sum = 0;
  for (double v : runs) sum += v;
  return sum / runs.size();
}

double MeasuredValue::std() const {
  if (runs.size() < 2) return 0;
  const double m = mean();
  double sum = 0;
  for (double v : runs) sum += (v - m) * (v - m);
  return std::sqrt(sum / runs.size());
}

std::string MeasuredValue::Format(double scale, int decimals) const {
  if (runs.empty()) return "—";
  if (runs.size() == 1) return absl::StrFormat("%.*f", decimals, mean() * scale);
  return absl::StrFormat("%.*f ± %.*f (%d runs)", decimals, mean() * scale, decimals, std() * scale,
                         int(runs.size()));
}

std::string RenderResultsMarkdown(const ResultsReport& report) {
  std::string out = absl::StrCat("# ", report.title, "\n\n");
  absl::StrAppend(&out, "<!-- Written by lip-eval (bridge/tools/eval_main.cc). Do not edit by hand. -->\n\n");
  for (const std::string& paragraph : report.preamble) absl::StrAppend(&out, paragraph, "\n\n");
  for (const ResultsTable& table : report.tables) {
    absl::StrAppend(&out, "## ", table.title, "\n\n");
    absl::StrAppend(&out, "| ", absl::StrJoin(table.header, " | "), " |\n");
    absl::StrAppend(&out, "|", std::string(), absl::StrJoin(std::vector<std::string>(table.header.size(), "---"), "|"), "|\n");
    for (const std::vector<std::string>& row : table.rows) {
      absl::StrAppend(&out, "| ", absl::StrJoin(row, " | "), " |\n");
    }
    absl::StrAppend(&out, "\n");
  }
  if (!report.notes.empty()) {
    absl::StrAppend(&out, "## Notes\n\n");
    for (const std::string& note : report.notes) absl::StrAppend(&out, "- ", note, "\n");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

absl::Status WriteResultsMarkdown(const std::string& path, const ResultsReport& report) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    out << RenderResultsMarkdown(report);
    if (!out.good()) return absl::InternalError(absl::StrCat("failed writing ", tmp));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace lip
