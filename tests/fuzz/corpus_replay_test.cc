// Runs every committed fuzz seed (tests/fuzz/corpus/) and every golden packet
// through the fuzz target's entry point, so normal CTest runs catch a
// regression on inputs the fuzzer once found interesting.
#include <dirent.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/binary_file.h"
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

TEST(PacketFuzzCorpusTest, EverySeedPassesTheFuzzTarget) {
  std::vector<std::string> files = FilesIn(std::string(LIP_SOURCE_DIR) + "/tests/fuzz/corpus");
  const size_t seeds = files.size();
  for (const std::string& f : FilesIn(std::string(LIP_SOURCE_DIR) + "/tests/data/lip-v1")) {
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".bin") == 0) files.push_back(f);
  }
  EXPECT_GE(seeds, 5u) << "the committed seed corpus is missing";
  for (const std::string& f : files) {
    absl::StatusOr<std::string> bytes = ReadBinaryFile(f);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    SCOPED_TRACE(f);
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), 0);
  }
}

}  // namespace
}  // namespace lip
