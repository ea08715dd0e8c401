// The LIP v1 golden test vectors (tests/data/lip-v1/), built deterministically
// from fixed inputs with exact arithmetic only, so every machine produces the
// same bytes. lip_golden_gen writes them; golden_vectors_test checks that the
// committed files equal what this code builds and that they decode as
// expected.json says; tests/python/test_golden_vectors.py decodes them with
// an independent implementation.
#ifndef LIP_TESTS_DATA_LIP_V1_GOLDEN_PACKETS_H_
#define LIP_TESTS_DATA_LIP_V1_GOLDEN_PACKETS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/wire/tensor_file.h"
#include "nlohmann/json.hpp"

namespace lip {

struct GoldenCase {
  std::string file;         // file name inside tests/data/lip-v1/
  std::string description;  // one line, copied into expected.json
  std::string wire;         // serialized LipPacket (possibly deliberately bad)
  bool valid = true;
  absl::StatusCode code = absl::StatusCode::kOk;  // when !valid
  std::string reason;                             // when !valid
};

// The golden packets: one valid packet per dtype, one from a newer minor with
// unknown fields, and one bad packet per selected defect.
std::vector<GoldenCase> BuildGoldenCases();

// expected.json: for each case its header fields and decoded values (valid)
// or its status code and reason (invalid). Built by decoding with the codec.
nlohmann::json BuildExpectedJson(const std::vector<GoldenCase>& cases);

// The 8 x 512 sample tensor the demo and the benchmarks encode
// (sample_soft_tokens_8x512.npy): roughly unit-RMS values with a few large
// outlier channels, like a transformer hidden state.
FloatMatrix SampleSoftTokens();

}  // namespace lip

#endif  // LIP_TESTS_DATA_LIP_V1_GOLDEN_PACKETS_H_
