// lip_golden_gen <dir> [<dir-1.1>]: writes the LIP v1 golden vectors (the *.bin
// packets, expected.json and sample_soft_tokens_8x512.npy) into <dir>, normally
// tests/data/lip-v1, and the LIP 1.1 compact-wire vectors (*.bin requests and
// expected.json) into <dir-1.1>, normally tests/data/lip-v1.1. Run it after a
// deliberate change to the codec or the cases, then review the diff;
// golden_vectors_test fails until you do.
#include <cstdio>
#include <string>

#include "common/wire/binary_file.h"
#include "compact_golden.h"
#include "golden_packets.h"

namespace {

// Writes each case's bytes as dir/<file> and expected.json; false (and a message) on an I/O error.
template <typename Case>
bool WriteCases(const std::string& dir, const std::vector<Case>& cases, const nlohmann::json& expected) {
  absl::Status status = absl::OkStatus();
  for (const Case& c : cases) {
    if (status.ok()) status = lip::WriteBinaryFile(dir + "/" + c.file, c.wire);
  }
  if (status.ok()) status = lip::WriteBinaryFile(dir + "/expected.json", expected.dump(1) + "\n");
  if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return status.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s <output-dir> [<output-dir-1.1>]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::vector<lip::GoldenCase> cases = lip::BuildGoldenCases();
  if (!WriteCases(dir, cases, lip::BuildExpectedJson(cases))) return 1;
  if (absl::Status s = lip::WriteNpyFile(dir + "/sample_soft_tokens_8x512.npy", lip::SampleSoftTokens()); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("wrote %zu packets, expected.json and sample_soft_tokens_8x512.npy to %s\n", cases.size(), dir.c_str());
  if (argc == 3) {
    const std::string dir11 = argv[2];
    const std::vector<lip::CompactGoldenCase> requests = lip::BuildCompactGoldenCases();
    if (!WriteCases(dir11, requests, lip::BuildCompactExpectedJson(requests))) return 1;
    std::printf("wrote %zu requests and expected.json to %s\n", requests.size(), dir11.c_str());
  }
  return 0;
}
