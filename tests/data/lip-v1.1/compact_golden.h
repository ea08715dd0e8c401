// The LIP 1.1 compact-wire golden vectors (tests/data/lip-v1.1/): a sequence of
// SendLatentRequests, as one caller sends them to a receiver that starts with no
// header cached, built deterministically (exact arithmetic) so every machine
// produces the same bytes. lip_golden_gen writes them; golden_vectors_test
// checks the committed files against this code and decodes them in order;
// tests/python/test_golden_vectors.py decodes them with its own implementation.
#ifndef LIP_TESTS_DATA_LIP_V1_1_COMPACT_GOLDEN_H_
#define LIP_TESTS_DATA_LIP_V1_1_COMPACT_GOLDEN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace lip {

struct CompactGoldenCase {
  std::string file;         // file name inside tests/data/lip-v1.1/
  std::string description;  // one line, copied into expected.json
  std::string wire;         // serialized SendLatentRequest (possibly deliberately bad)
  bool valid = true;
  absl::StatusCode code = absl::StatusCode::kOk;  // when !valid
  std::string reason;                             // when !valid
};

// The requests in the order a receiver must process them: a compact message
// before its header (HEADER_NOT_CACHED), the full packet that carries the
// header, compact messages (derived and explicit packet ids), a 1.0 packet in
// between, and one bad compact message per defect.
std::vector<CompactGoldenCase> BuildCompactGoldenCases();

// expected.json: for each request in order, what a receiver makes of it — the
// full packet it stands for (identity, shape, dtype, checksum, scales, every
// value) and whether its header is now cached, or the code and reason.
nlohmann::json BuildCompactExpectedJson(const std::vector<CompactGoldenCase>& cases);

}  // namespace lip

#endif  // LIP_TESTS_DATA_LIP_V1_1_COMPACT_GOLDEN_H_
