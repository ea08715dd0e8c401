// A labelled text-classification dataset read from JSONL ({"text": ..., "label": ...} per line,
// the format of ../shared/data), with labels mapped to indices of a fixed label list.
// No LibTorch. Immutable after loading; thread-safe to read.
#ifndef LIP_BRIDGE_TRAIN_TEXT_DATASET_H_
#define LIP_BRIDGE_TRAIN_TEXT_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

struct LabelledText {
  std::string text;
  int32_t label = 0;  // index into TextDataset::label_names
};

struct TextDataset {
  std::vector<std::string> label_names;  // e.g. {"World", "Sports", "Business", "Sci/Tech"}
  std::vector<LabelledText> examples;

  // Number of examples per label index.
  std::vector<int64_t> LabelCounts() const;
};

// The texts and labels of a sampled batch, in the order of `indices` (valid indices of `dataset`).
struct TextBatch {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
};
TextBatch GatherExamples(const TextDataset& dataset, const std::vector<int64_t>& indices);

// Reads `path`. `label_names` fixes the label order; a label not in it is INVALID_ARGUMENT naming
// the line. `limit` > 0 keeps StratifiedSample(all, limit, seed) — never just the first rows, which
// in a label-sorted file are a few classes. NOT_FOUND when the file is missing; INVALID_ARGUMENT
// for malformed lines (naming the line number).
absl::StatusOr<TextDataset> ReadJsonlDataset(const std::string& path,
                                             const std::vector<std::string>& label_names,
                                             int64_t limit = 0, uint64_t seed = 1);

// `limit` examples of `all` (all of it when limit <= 0 or >= its size), stratified by label: each
// label keeps its share of `limit` (proportional to its count; the largest remainders round up),
// drawn from a permutation seeded by `seed` (the same sample on every platform). The kept examples
// stay in their original order.
TextDataset StratifiedSample(const TextDataset& all, int64_t limit, uint64_t seed);

// The distinct label strings of a JSONL file (every row's "label"), sorted. NOT_FOUND when the
// file is missing; INVALID_ARGUMENT for malformed lines (rows as ReadJsonlDataset reads them,
// naming the line number) or no rows.
absl::StatusOr<std::vector<std::string>> ReadJsonlLabels(const std::string& path);

// Splits off a validation set of `validation_size` examples from a training set, stratified by
// label and seeded (StratifiedSample's selection): each label keeps its share in both parts. The
// two parts are disjoint and together are the input, each in file order. INVALID_ARGUMENT when
// validation_size >= the dataset size.
// The validation size a training file of `examples` rows allows for a requested size: at most a
// fifth of the rows, so that training keeps four fifths (>= 0).
int64_t ValidationSizeFor(int64_t requested, int64_t examples);

absl::Status SplitValidation(const TextDataset& all, int64_t validation_size, uint64_t seed,
                             TextDataset* train, TextDataset* validation);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_TEXT_DATASET_H_
