// The committed golden vectors in tests/data/lip-v1/ are exactly what the
// generator builds today, and decode as expected.json says. If this fails
// after a deliberate codec change, run `lip_golden_gen tests/data/lip-v1` and
// review the diff (the Python decoder test must still pass).
#include <cstring>
#include <string>

#include <map>
#include <memory>

#include "common/wire/binary_file.h"
#include "common/wire/compact_packet.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "compact_golden.h"
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
    EXPECT_EQ(decoded->rows, c["soft_token_count"].get<int64_t>());
    EXPECT_EQ(decoded->cols, c["soft_token_width"].get<int64_t>());
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

// ---- LIP 1.1 compact wire (tests/data/lip-v1.1/) ------------------------------------------

const std::string kDir11 = std::string(LIP_SOURCE_DIR) + "/tests/data/lip-v1.1/";

nlohmann::json CommittedCompactExpected() {
  absl::StatusOr<std::string> text = ReadBinaryFile(kDir11 + "expected.json");
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
}

TEST(GoldenVectorsTest, CommittedCompactFilesEqualGeneratorOutput) {
  for (const CompactGoldenCase& c : BuildCompactGoldenCases()) {
    absl::StatusOr<std::string> bytes = ReadBinaryFile(kDir11 + c.file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(*bytes == c.wire) << c.file << " differs from the generator output; regenerate with lip_golden_gen";
  }
  EXPECT_EQ(CommittedCompactExpected(), BuildCompactExpectedJson(BuildCompactGoldenCases()));
}

// The committed requests, decoded in order by one receiver for one caller: a compact message
// before its header is HEADER_NOT_CACHED, the full packet leaves its header, later compact
// messages decode to exactly the committed values, and bad ones do not disturb the stream.
TEST(GoldenVectorsTest, CompactRequestsDecodeInOrderAsExpected) {
  const nlohmann::json expected = CommittedCompactExpected();
  ASSERT_TRUE(expected.contains("requests"));
  std::map<uint64_t, std::shared_ptr<const lip::v1::LipPacket>> headers;
  int compact = 0, invalid = 0;
  for (const nlohmann::json& c : expected["requests"]) {
    const std::string file = c["file"];
    absl::StatusOr<std::string> bytes = ReadBinaryFile(kDir11 + file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    lip::v1::SendLatentRequest request;
    absl::StatusOr<std::vector<float>> values = PacketError(PacketDefect::kMalformed, "not a SendLatentRequest");
    lip::v1::LipPacket packet;
    if (request.ParseFromString(*bytes)) {
      auto taken = PacketOfRequest(&request, [&](uint64_t id) {
        auto it = headers.find(id);
        return it == headers.end() ? nullptr : it->second;
      });
      values = taken.ok() ? ValidateAndDequantize(*taken) : absl::StatusOr<std::vector<float>>(taken.status());
      if (taken.ok()) packet = *std::move(taken);
    }
    if (!c["valid"].get<bool>()) {
      ++invalid;
      ASSERT_FALSE(values.ok()) << file;
      EXPECT_EQ(absl::StatusCodeToString(values.status().code()), c["code"].get<std::string>()) << file;
      EXPECT_EQ(PacketErrorReason(values.status()), c["reason"].get<std::string>()) << file;
      continue;
    }
    ASSERT_TRUE(values.ok()) << file << ": " << values.status();
    if (packet.header_id() != 0) headers[packet.header_id()] = std::make_shared<lip::v1::LipPacket>(PacketHeader(packet));
    if (c["kind"] == "compact") {
      ++compact;
      EXPECT_LE(c["message_bytes"].get<size_t>(), 232u) << file << ": the compact form's byte target";
    }
    EXPECT_EQ(HexBytes(packet.packet_id()), c["packet_id_hex"].get<std::string>()) << file;
    EXPECT_EQ(packet.sequence(), c["sequence"].get<uint64_t>()) << file;
    EXPECT_EQ(packet.conversation_id(), c["conversation_id"].get<std::string>()) << file;
    EXPECT_EQ(packet.tensor().crc32c(), c["crc32c"].get<uint32_t>()) << file;
    const auto& want = c["values"];
    ASSERT_EQ(want.size(), values->size()) << file;
    for (size_t i = 0; i < want.size(); ++i) {
      const float v = static_cast<float>(want[i].get<double>());
      ASSERT_EQ(std::memcmp(&v, &(*values)[i], 4), 0) << file << " value " << i;
    }
  }
  EXPECT_EQ(compact, 4);
  EXPECT_GE(invalid, 9);
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
