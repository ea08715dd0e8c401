#include "bridge/train/text_dataset.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"
#include "nlohmann/json.hpp"

namespace lip {

std::vector<int64_t> TextDataset::LabelCounts() const {
  std::vector<int64_t> counts(label_names.size(), 0);
  for (const LabelledText& e : examples) ++counts[e.label];
  return counts;
}

namespace {

// Calls row(text, label, line_number) for each non-empty line of the JSONL file at `path`; NOT_FOUND
// when it is missing, INVALID_ARGUMENT naming the line for a row that is not {"text", "label"}
// strings, or the first error `row` returns.
absl::Status ForEachJsonlRow(
    const std::string& path,
    const std::function<absl::Status(const std::string& text, const std::string& label, int64_t line)>& row) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("dataset file ", path, " does not exist"));
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j.contains("label") ||
        !j["text"].is_string() || !j["label"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": expected {\"text\": string, \"label\": string}"));
    }
    LIP_RETURN_IF_ERROR(row(j["text"].get<std::string>(), j["label"].get<std::string>(), line_number));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TextDataset> ReadJsonlDataset(const std::string& path,
                                             const std::vector<std::string>& label_names,
                                             int64_t limit, uint64_t seed) {
  if (label_names.empty()) return absl::InvalidArgumentError("dataset needs at least one label name");
  TextDataset dataset;
  dataset.label_names = label_names;
  LIP_RETURN_IF_ERROR(ForEachJsonlRow(path, [&](const std::string& text, const std::string& label, int64_t line) {
    auto it = std::find(label_names.begin(), label_names.end(), label);
    if (it == label_names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": label \"", label, "\" is not one of the task's labels"));
    }
    dataset.examples.push_back({text, int32_t(it - label_names.begin())});
    return absl::OkStatus();
  }));
  if (dataset.examples.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no examples"));
  return StratifiedSample(dataset, limit, seed);
}

absl::StatusOr<std::vector<std::string>> ReadJsonlLabels(const std::string& path) {
  std::set<std::string> labels;
  LIP_RETURN_IF_ERROR(ForEachJsonlRow(path, [&](const std::string&, const std::string& label, int64_t) {
    labels.insert(label);
    return absl::OkStatus();
  }));
  if (labels.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no examples"));
  return std::vector<std::string>(labels.begin(), labels.end());
}

// Which examples of `all` a stratified sample of `limit` (0 < limit < size) keeps (see StratifiedSample).
std::vector<char> StratifiedMask(const TextDataset& all, int64_t limit, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(all.examples.size());
  // Each label's share of `limit`, proportional to its count: the floors, then one more for the
  // labels with the largest remainders (ties: the lower label index).
  const std::vector<int64_t> counts = all.LabelCounts();
  const size_t labels = counts.size();
  std::vector<int64_t> quota(labels);
  std::vector<std::pair<int64_t, size_t>> remainders;  // (remainder * n, label)
  int64_t given = 0;
  for (size_t l = 0; l < labels; ++l) {
    quota[l] = counts[l] * limit / n;
    given += quota[l];
    remainders.push_back({counts[l] * limit % n, l});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; given < limit && i < remainders.size(); ++i) {
    if (quota[remainders[i].second] < counts[remainders[i].second]) {
      ++quota[remainders[i].second];
      ++given;
    }
  }
  // Per label, the first quota[l] of a seeded permutation of its examples (Fisher-Yates on
  // mt19937_64, whose output the C++ standard fixes: the same sample on every platform).
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int64_t>> by_label(labels);
  for (int64_t i = 0; i < n; ++i) by_label[all.examples[i].label].push_back(i);
  std::vector<char> keep(n, 0);
  for (size_t l = 0; l < labels; ++l) {
    std::vector<int64_t>& members = by_label[l];
    for (int64_t i = static_cast<int64_t>(members.size()) - 1; i > 0; --i) {
      std::swap(members[i], members[rng() % static_cast<uint64_t>(i + 1)]);
    }
    for (int64_t j = 0; j < quota[l]; ++j) keep[members[j]] = 1;
  }
  return keep;
}

TextDataset StratifiedSample(const TextDataset& all, int64_t limit, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(all.examples.size());
  if (limit <= 0 || limit >= n) return all;
  const std::vector<char> keep = StratifiedMask(all, limit, seed);
  TextDataset sample;
  sample.label_names = all.label_names;
  for (int64_t i = 0; i < n; ++i) {
    if (keep[i]) sample.examples.push_back(all.examples[i]);  // in file order
  }
  return sample;
}

int64_t ValidationSizeFor(int64_t requested, int64_t examples) {
  return std::max<int64_t>(0, std::min(requested, examples / 5));
}

absl::Status SplitValidation(const TextDataset& all, int64_t validation_size, uint64_t seed,
                             TextDataset* train, TextDataset* validation) {
  const int64_t n = all.examples.size();
  if (validation_size < 0 || validation_size >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation size ", validation_size, " must be in [0, ", n, ")"));
  }
  std::vector<char> is_validation(n, 0);
  if (validation_size > 0) is_validation = StratifiedMask(all, validation_size, seed);
  train->label_names = validation->label_names = all.label_names;
  train->examples.clear();
  validation->examples.clear();
  for (int64_t i = 0; i < n; ++i) {
    (is_validation[i] ? validation : train)->examples.push_back(all.examples[i]);
  }
  return absl::OkStatus();
}

TextBatch GatherExamples(const TextDataset& dataset, const std::vector<int64_t>& indices) {
  TextBatch batch;
  for (int64_t index : indices) {
    batch.texts.push_back(dataset.examples[index].text);
    batch.labels.push_back(dataset.examples[index].label);
  }
  return batch;
}

}  // namespace lip
