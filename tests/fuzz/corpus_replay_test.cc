// Runs every committed input of one fuzz target's corpus (LIP_FUZZ_CORPUS_DIR,
// relative to the source tree; for the packet decoder also the golden packets
// of LIP_FUZZ_EXTRA_DIR) through that target's entry point, so normal CTest
// runs catch a regression on inputs the fuzzer once found interesting.
// tests/fuzz/CMakeLists.txt builds one such test per fuzz target.
#include <dirent.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/wire/binary_file.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace lip {
namespace {

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != ".." && name != "README.md") files.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  return files;
}

TEST(FuzzCorpusTest, EverySeedPassesTheFuzzTarget) {
  std::vector<std::string> files = FilesIn(std::string(LIP_SOURCE_DIR) + "/" + LIP_FUZZ_CORPUS_DIR);
  const size_t seeds = files.size();
#ifdef LIP_FUZZ_EXTRA_DIR
  for (const std::string& f : FilesIn(std::string(LIP_SOURCE_DIR) + "/" + LIP_FUZZ_EXTRA_DIR)) {
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".bin") == 0) files.push_back(f);
  }
#endif
  // The empty input first: every target must take it (and it runs the target's one-time set-up,
  // which writes seed inputs when LIP_FUZZ_WRITE_SEEDS names a directory).
  static const uint8_t kNoBytes[1] = {0};
  EXPECT_EQ(LLVMFuzzerTestOneInput(kNoBytes, 0), 0);
  EXPECT_GE(seeds, 3u) << "the committed seed corpus " << LIP_FUZZ_CORPUS_DIR << " is missing";
  for (const std::string& f : files) {
    absl::StatusOr<std::string> bytes = ReadBinaryFile(f);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    SCOPED_TRACE(f);
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), 0);
  }
}

}  // namespace
}  // namespace lip
