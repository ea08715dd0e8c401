// Readers for the golden files of tests/data/tokenizers/ (made by make_golden.py with the Hugging Face
// `tokenizers` library) and for the ../shared datasets. Test-only helpers.
#ifndef LIP_TESTS_TOKENIZER_GOLDEN_FILE_H_
#define LIP_TESTS_TOKENIZER_GOLDEN_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace lip {

// 64-bit FNV-1a, as make_golden.py computes it.
uint64_t Fnv64(std::string_view bytes);
// FNV-1a of the ids as little-endian int32.
uint64_t Fnv64Ids(const std::vector<int32_t>& ids);

// One line of <model>.tsv.
struct GoldenHashLine {
  std::string set;
  size_t index = 0;
  size_t num_ids = 0;
  uint64_t ids_hash = 0;
  uint64_t decoded_hash = 0;
};

// Reads <model>.tsv; empty when the file is missing.
std::vector<GoldenHashLine> ReadGoldenHashes(const std::string& path);
// Reads a JSON-lines file; empty when missing.
std::vector<nlohmann::json> ReadJsonLines(const std::string& path);
// The "text" field of every line of a dataset file.
std::vector<std::string> ReadDatasetTexts(const std::string& path);

}  // namespace lip

#endif  // LIP_TESTS_TOKENIZER_GOLDEN_FILE_H_
