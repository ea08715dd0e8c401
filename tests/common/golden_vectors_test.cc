// The committed golden vectors in tests/data/lip-v1/ are exactly what the
// generator builds today, and decode as expected.json says. If this fails
// after a deliberate codec change, run `lip_golden_gen tests/data/lip-v1` and
// review the diff (the Python decoder test must still pass).
#include <cstring>
#include <string>

#include "common/binary_file.h"
#include "common/packet_codec.h"
#include "common/packet_error.h"
#include "golden_packets.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

const std::string kDir = std::string(LIP_SOURCE_DIR) + "/tests/data/lip-v1/";

nlohmann::json CommittedExpected() {
  absl::StatusOr<std::string> text = ReadBinaryFile(kDir + "expected.json");
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
}

TEST(GoldenVectorsTest, CommittedFilesEqualGeneratorOutput) {
  for (const GoldenCase& c : BuildGoldenCases()) {
    absl::StatusOr<std::string> bytes = ReadBinaryFile(kDir + c.file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(*bytes == c.wire) << c.file << " differs from the generator output (" << bytes->size() << " vs "
                                  << c.wire.size() << " bytes); regenerate with lip_golden_gen";
  }
  EXPECT_EQ(CommittedExpected(), BuildExpectedJson(BuildGoldenCases()));
}

TEST(GoldenVectorsTest, EachCommittedPacketDecodesAsExpected) {
  const nlohmann::json expected = CommittedExpected();
  ASSERT_TRUE(expected.contains("cases"));
  int valid = 0, invalid = 0;
  for (const nlohmann::json& c : expected["cases"]) {
    const std::string file = c["file"];
    absl::StatusOr<std::string> bytes = ReadBinaryFile(kDir + file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<DecodedPacket> decoded = DecodePacket(*bytes);
    if (!c["valid"].get<bool>()) {
      ++invalid;
      ASSERT_FALSE(decoded.ok()) << file;
      EXPECT_EQ(absl::StatusCodeToString(decoded.status().code()), c["code"].get<std::string>()) << file;
      EXPECT_EQ(PacketErrorReason(decoded.status()), c["reason"].get<std::string>()) << file;
      continue;
    }
    ++valid;
    ASSERT_TRUE(decoded.ok()) << file << ": " << decoded.status();
    EXPECT_EQ(decoded->rows, c["soft_token_count"].get<uint32_t>());
    EXPECT_EQ(decoded->cols, c["soft_token_width"].get<uint32_t>());
    EXPECT_EQ(lip::v1::DType_Name(decoded->packet.tensor().dtype()), c["dtype"].get<std::string>());
    EXPECT_EQ(HexBytes(decoded->packet.packet_id()), c["packet_id_hex"].get<std::string>());
    const auto& values = c["values"];
    ASSERT_EQ(values.size(), decoded->values.size()) << file;
    for (size_t i = 0; i < values.size(); ++i) {
      const float want = static_cast<float>(values[i].get<double>());
      // Bitwise, so -0.0 and 0.0 are told apart.
      ASSERT_EQ(std::memcmp(&want, &decoded->values[i], 4), 0) << file << " value " << i;
    }
  }
  EXPECT_EQ(valid, 5);
  EXPECT_GE(invalid, 8);
}

// Hand-checked values, independent of the generator: fp16 ties and subnormals.
TEST(GoldenVectorsTest, Fp16PacketHoldsKnownRoundings) {
  absl::StatusOr<std::string> bytes = ReadBinaryFile(kDir + "fp16_generate.bin");
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const std::vector<float>& v = decoded->values;
  EXPECT_EQ(v[4], 0.0999755859375f);           // 0.1 -> 0x2E66
  EXPECT_EQ(v[6], 65504.0f);                   // fp16 max
  EXPECT_EQ(v[8], 0x1p-24f);                   // smallest subnormal
  EXPECT_EQ(v[9], 0x1p-23f);                   // 1.5 * 2^-24 ties to even (2 * 2^-24)
  EXPECT_EQ(v[11], 0.0f);                      // 1e-8 underflows
  EXPECT_EQ(v[12], 1.0f);                      // 1 + 2^-11 ties to even (1.0)
  EXPECT_EQ(v[13], 1.0f + 0x1p-9f);            // 1 + 3*2^-11 ties to even (1 + 2^-9)
  EXPECT_TRUE(std::signbit(v[1]));             // -0.0 survives
  for (int c = 0; c < 8; ++c) EXPECT_EQ(v[24 + c], 0.0f);
}

TEST(GoldenVectorsTest, SampleTensorIsTheGeneratorsAndEncodesInEveryDtype) {
  absl::StatusOr<FloatMatrix> sample = ReadNpyFile(kDir + "sample_soft_tokens_8x512.npy");
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->rows, 8);
  EXPECT_EQ(sample->cols, 512);
  EXPECT_EQ(sample->values, SampleSoftTokens().values);
}

}  // namespace
}  // namespace lip
