#include "common/wire/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace lip {
namespace {

// Bit-at-a-time reference, written from the definition (reflected 0x82F63B78).
uint32_t ReferenceCrc32c(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32cTest, CheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32cTest, Rfc3720Vectors) {
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32cTest, EmptyInputIsZero) { EXPECT_EQ(Crc32c("", 0), 0u); }

TEST(Crc32cTest, MatchesBitwiseReferenceOnEveryLengthAndAlignment) {
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    x = x * 1664525u + 1013904223u;
    data.push_back(static_cast<char>(x >> 24));
  }
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 7) {
      const std::string piece = data.substr(start, len);
      ASSERT_EQ(Crc32c(piece), ReferenceCrc32c(piece)) << "start " << start << " len " << len;
    }
  }
}

// The library switches kernels with the input size (byte loop, 8-byte steps,
// folded blocks of several KiB); sizes around and past those switches.
TEST(Crc32cTest, MatchesBitwiseReferenceOnLargeBuffers) {
  std::string data;
  uint32_t x = 777;
  for (int i = 0; i < (1 << 20) + 13; ++i) {
    x = x * 1664525u + 1013904223u;
    data.push_back(static_cast<char>(x >> 24));
  }
  for (size_t len : {255u, 256u, 1023u, 1024u, 3 * 1024u + 7, 4096u, 8191u, 65537u, 1u << 20}) {
    for (size_t start : {0u, 3u}) {
      const std::string piece = data.substr(start, len);
      ASSERT_EQ(Crc32c(piece), ReferenceCrc32c(piece)) << "start " << start << " len " << len;
    }
  }
  // Split anywhere, extended piece by piece: the same as the whole.
  const uint32_t whole = Crc32c(data);
  EXPECT_EQ(Crc32cExtend(Crc32c(data.data(), 70001), data.data() + 70001, data.size() - 70001), whole);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string a = "latent injection ", b = "protocol packet payload bytes";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data(1000, 'x');
  const uint32_t before = Crc32c(data);
  data[500] ^= 0x04;
  EXPECT_NE(Crc32c(data), before);
}

}  // namespace
}  // namespace lip
