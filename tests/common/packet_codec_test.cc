// Packet codec: round trips in every dtype, and one test per way a packet can
// be bad, each checking the status code, the reason and the message.
#include "common/wire/packet_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/wire/half_float.h"
#include "common/wire/lip_version.h"
#include "common/wire/packet_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

using ::testing::HasSubstr;
using lip::v1::LipPacket;

constexpr int kRows = 8;
constexpr int kCols = 64;

std::vector<float> TestValues(int rows, int cols) {
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  uint32_t state = 42;
  for (size_t i = 0; i < v.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    v[i] = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 4.0f;
  }
  return v;
}

PacketMetadata TestMetadata() {
  PacketMetadata meta;
  meta.packet_id = std::string("0123456789abcdef");
  meta.conversation_id = "conv-1";
  meta.sequence = 3;
  meta.created_unix_nanos = 1700000000000000000;
  meta.sender_model.set_family("llama");
  meta.sender_model.set_name("lip-demo/sender-llama");
  meta.sender_model.set_weights_digest("sha256:" + std::string(64, 'a'));
  lip::v1::ModelId receiver;
  receiver.set_family("qwen2");
  receiver.set_name("lip-demo/receiver-qwen2");
  meta.receiver_models.push_back(receiver);
  meta.bridge.set_name("llama-to-qwen2");
  meta.bridge.set_version(1);
  meta.source_layer = 12;
  meta.calibration.set_energy_mode(lip::v1::ENERGY_MODE_RMS);
  meta.priming.set_context_prefix("Topic:");
  meta.priming.set_anchor("Answer:");
  meta.task.mutable_classify()->add_labels("world");
  meta.task.mutable_classify()->add_labels("sports");
  return meta;
}

LipPacket ValidPacket(lip::v1::DType dtype = lip::v1::DTYPE_FP16) {
  const std::vector<float> values = TestValues(kRows, kCols);
  absl::StatusOr<LipPacket> packet = BuildPacket(TestMetadata(), values, kRows, kCols, dtype);
  EXPECT_TRUE(packet.ok()) << packet.status();
  return *packet;
}

// Recomputes the checksum after a test edits the tensor on purpose, so the
// defect under test is the one reported, not CHECKSUM_MISMATCH.
void Reseal(LipPacket& packet) { packet.mutable_tensor()->set_crc32c(TensorChecksum(packet.tensor())); }

void ExpectDefect(const std::string& wire, absl::StatusCode code, const std::string& reason,
                  const std::string& message_part, const DecodeOptions& options = DecodeOptions()) {
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(wire, options);
  ASSERT_FALSE(decoded.ok()) << "expected " << reason;
  EXPECT_EQ(decoded.status().code(), code) << decoded.status();
  EXPECT_EQ(PacketErrorReason(decoded.status()), reason) << decoded.status();
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(message_part));
}

void ExpectDefect(const LipPacket& packet, const std::string& reason, const std::string& message_part,
                  const DecodeOptions& options = DecodeOptions()) {
  ExpectDefect(SerializePacket(packet), absl::StatusCode::kInvalidArgument, reason, message_part, options);
}

// ---- round trips -------------------------------------------------------------

TEST(PacketCodecTest, Fp32RoundTripIsExact) {
  const std::vector<float> values = TestValues(kRows, kCols);
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(SerializePacket(ValidPacket(lip::v1::DTYPE_FP32)));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rows, kRows);
  EXPECT_EQ(decoded->cols, kCols);
  EXPECT_EQ(decoded->values, values);
}

TEST(PacketCodecTest, Fp16AndBf16RoundTripEqualsPerValueConversion) {
  const std::vector<float> values = TestValues(kRows, kCols);
  for (auto dtype : {lip::v1::DTYPE_FP16, lip::v1::DTYPE_BF16}) {
    absl::StatusOr<DecodedPacket> decoded = DecodePacket(SerializePacket(ValidPacket(dtype)));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    for (size_t i = 0; i < values.size(); ++i) {
      const float want = dtype == lip::v1::DTYPE_FP16 ? HalfBitsToFloat(FloatToHalfBits(values[i]))
                                                      : Bfloat16BitsToFloat(FloatToBfloat16Bits(values[i]));
      ASSERT_EQ(decoded->values[i], want) << DTypeName(dtype) << " index " << i;
      // Relative error bound of round-to-nearest: 2^-11 (fp16 normals), 2^-8 (bf16).
      const float bound = dtype == lip::v1::DTYPE_FP16 ? 0x1p-11f : 0x1p-8f;
      ASSERT_LE(std::fabs(decoded->values[i] - values[i]), std::fabs(values[i]) * bound + 0x1p-24f);
    }
  }
}

TEST(PacketCodecTest, Int8RoundTripIsWithinHalfAStepPerRow) {
  const std::vector<float> values = TestValues(kRows, kCols);
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  ASSERT_EQ(packet.tensor().scales_size(), kRows);
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(SerializePacket(packet));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      const size_t i = static_cast<size_t>(r) * kCols + c;
      ASSERT_LE(std::fabs(decoded->values[i] - values[i]), packet.tensor().scales(r) * 0.5001f);
    }
  }
}

TEST(PacketCodecTest, PayloadSizesAreMTimesDTimesDtypeSize) {
  for (auto [dtype, size] : {std::pair{lip::v1::DTYPE_FP32, 4}, {lip::v1::DTYPE_FP16, 2}, {lip::v1::DTYPE_BF16, 2},
                             {lip::v1::DTYPE_INT8, 1}}) {
    const LipPacket packet = ValidPacket(dtype);
    EXPECT_EQ(packet.tensor().data().size(), static_cast<size_t>(kRows * kCols * size)) << DTypeName(dtype);
    EXPECT_EQ(packet.tensor().crc32c(), TensorChecksum(packet.tensor()));
  }
}

TEST(PacketCodecTest, BuildFillsHeaderAndMeasuresCalibration) {
  const LipPacket packet = ValidPacket(lip::v1::DTYPE_FP32);
  EXPECT_EQ(packet.version().major(), kLipProtocolMajor);
  EXPECT_EQ(packet.version().minor(), kLipMinorBase);  // no 1.1 feature used
  EXPECT_EQ(packet.soft_token_count(), static_cast<uint32_t>(kRows));
  EXPECT_EQ(packet.soft_token_width(), static_cast<uint32_t>(kCols));
  EXPECT_EQ(packet.packet_id(), "0123456789abcdef");
  EXPECT_EQ(packet.calibration().energy_mode(), lip::v1::ENERGY_MODE_RMS);
  const std::vector<float> values = TestValues(kRows, kCols);
  double squares = 0, norms = 0;
  for (int r = 0; r < kRows; ++r) {
    double row = 0;
    for (int c = 0; c < kCols; ++c) row += double{values[r * kCols + c]} * values[r * kCols + c];
    squares += row;
    norms += std::sqrt(row);
  }
  EXPECT_NEAR(packet.calibration().source_rms(), std::sqrt(squares / (kRows * kCols)), 1e-5);
  EXPECT_NEAR(packet.calibration().source_mean_norm(), norms / kRows, 1e-4);
}

TEST(PacketCodecTest, BuildGeneratesDistinctRandomPacketIdsAndTimestamp) {
  PacketMetadata meta = TestMetadata();
  meta.packet_id.clear();
  meta.created_unix_nanos = 0;
  const std::vector<float> values = TestValues(2, 4);
  absl::StatusOr<LipPacket> a = BuildPacket(meta, values, 2, 4, lip::v1::DTYPE_FP16);
  absl::StatusOr<LipPacket> b = BuildPacket(meta, values, 2, 4, lip::v1::DTYPE_FP16);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->packet_id().size(), 16u);
  EXPECT_NE(a->packet_id(), b->packet_id());
  EXPECT_GT(a->created_unix_nanos(), 1600000000000000000);
}

TEST(PacketCodecTest, SerializationIsDeterministic) {
  EXPECT_EQ(SerializePacket(ValidPacket()), SerializePacket(ValidPacket()));
}

TEST(PacketCodecTest, NewerMinorVersionIsAccepted) {
  LipPacket packet = ValidPacket();
  packet.mutable_version()->set_minor(kLipProtocolMinor + 5);
  EXPECT_TRUE(DecodePacket(SerializePacket(packet)).ok());
}

// A packet from a newer minor carries fields this build does not know; they
// must be skipped, at the top level and inside nested messages.
TEST(PacketCodecTest, UnknownFieldsFromNewerMinorAreIgnored) {
  LipPacket packet = ValidPacket();
  packet.mutable_version()->set_minor(kLipProtocolMinor + 1);
  std::string wire = SerializePacket(packet);
  // field 100, varint 7; field 101, length-delimited "future"; field 102, fixed32.
  wire += std::string("\xA0\x06\x07", 3);
  wire += std::string("\xAA\x06\x06", 3) + "future";
  wire += std::string("\xB5\x06\x01\x02\x03\x04", 6);
  // A second copy of field 1 (version) carrying an unknown field 9: protobuf
  // merges repeated occurrences of a message field, so this lands inside
  // ProtocolVersion as an unknown field.
  wire += std::string("\x0A\x02\x48\x01", 4);
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<DecodedPacket> plain = DecodePacket(SerializePacket(packet));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(decoded->values, plain->values);
  EXPECT_EQ(decoded->packet.version().minor(), kLipProtocolMinor + 1);
  EXPECT_FALSE(decoded->packet.GetReflection()->GetUnknownFields(decoded->packet).empty());
}

// ---- defects: wire level -----------------------------------------------------

TEST(PacketDefectTest, GarbageBytesAreMalformed) {
  ExpectDefect(std::string("\xFF\xFF\xFF\xFF", 4), absl::StatusCode::kInvalidArgument, "MALFORMED",
               "not a valid lip.v1.LipPacket");
}

TEST(PacketDefectTest, TruncatedPacketIsMalformed) {
  const std::string wire = SerializePacket(ValidPacket());
  ExpectDefect(wire.substr(0, wire.size() - 10), absl::StatusCode::kInvalidArgument, "MALFORMED",
               absl::StrCat("the ", wire.size() - 10, " bytes"));
}

TEST(PacketDefectTest, EmptyBytesLackAVersion) {
  ExpectDefect("", absl::StatusCode::kInvalidArgument, "MISSING_FIELD", "version is missing");
}

TEST(PacketDefectTest, OversizedPacketIsRefusedBeforeParsing) {
  DecodeOptions options;
  options.limits.max_packet_bytes = 100;
  const std::string wire = SerializePacket(ValidPacket());
  ExpectDefect(wire, absl::StatusCode::kInvalidArgument, "LIMIT_EXCEEDED",
               absl::StrCat("packet is ", wire.size(), " bytes, limit is 100"), options);
}

// ---- defects: version and identity -----------------------------------------

TEST(PacketDefectTest, MajorVersionMismatchIsFailedPrecondition) {
  LipPacket packet = ValidPacket();
  packet.mutable_version()->set_major(2);
  ExpectDefect(SerializePacket(packet), absl::StatusCode::kFailedPrecondition, "VERSION_MISMATCH",
               "packet is LIP 2.0, this implementation speaks major 1");
}

TEST(PacketDefectTest, MajorVersionZeroIsAMismatch) {
  LipPacket packet = ValidPacket();
  packet.mutable_version()->set_major(0);
  packet.mutable_version()->set_minor(9);
  ExpectDefect(SerializePacket(packet), absl::StatusCode::kFailedPrecondition, "VERSION_MISMATCH", "LIP 0.9");
}

TEST(PacketDefectTest, MissingVersion) {
  LipPacket packet = ValidPacket();
  packet.clear_version();
  ExpectDefect(packet, "MISSING_FIELD", "version is missing");
}

TEST(PacketDefectTest, MissingPacketId) {
  LipPacket packet = ValidPacket();
  packet.clear_packet_id();
  ExpectDefect(packet, "MISSING_FIELD", "packet_id is missing");
}

TEST(PacketDefectTest, PacketIdOfWrongLength) {
  LipPacket packet = ValidPacket();
  packet.set_packet_id("short");
  ExpectDefect(packet, "INVALID_FIELD", "packet_id is 5 bytes, expected 16");
}

TEST(PacketDefectTest, ConversationIdOverLimit) {
  LipPacket packet = ValidPacket();
  packet.set_conversation_id(std::string(513, 'c'));
  ExpectDefect(packet, "LIMIT_EXCEEDED", "conversation_id is 513 bytes, limit is 512");
}

TEST(PacketDefectTest, MissingSenderModel) {
  LipPacket packet = ValidPacket();
  packet.clear_sender_model();
  ExpectDefect(packet, "MISSING_FIELD", "sender_model is missing");
}

TEST(PacketDefectTest, SenderModelWithoutName) {
  LipPacket packet = ValidPacket();
  packet.mutable_sender_model()->clear_name();
  ExpectDefect(packet, "MISSING_FIELD", "sender_model.name is missing");
}

TEST(PacketDefectTest, MalformedWeightsDigest) {
  LipPacket packet = ValidPacket();
  packet.mutable_sender_model()->set_weights_digest("md5:abc");
  ExpectDefect(packet, "INVALID_FIELD", "sender_model.weights_digest is \"md5:abc\", expected \"sha256:\"");
}

TEST(PacketDefectTest, ReceiverModelWithoutName) {
  LipPacket packet = ValidPacket();
  packet.add_receiver_models()->set_family("mistral");
  ExpectDefect(packet, "MISSING_FIELD", "receiver_models[1].name is missing");
}

TEST(PacketDefectTest, TooManyReceiverModels) {
  LipPacket packet = ValidPacket();
  for (int i = 0; i < 64; ++i) packet.add_receiver_models()->set_name("r");
  ExpectDefect(packet, "LIMIT_EXCEEDED", "receiver_models has 65 entries, limit is 64");
}

TEST(PacketDefectTest, MissingBridge) {
  LipPacket packet = ValidPacket();
  packet.clear_bridge();
  ExpectDefect(packet, "MISSING_FIELD", "bridge is missing");
}

TEST(PacketDefectTest, BridgeWithoutName) {
  LipPacket packet = ValidPacket();
  packet.mutable_bridge()->clear_name();
  ExpectDefect(packet, "MISSING_FIELD", "bridge.name is missing");
}

TEST(PacketDefectTest, MalformedBridgeDigest) {
  LipPacket packet = ValidPacket();
  packet.mutable_bridge()->set_digest("sha256:" + std::string(64, 'A'));
  ExpectDefect(packet, "INVALID_FIELD", "bridge.digest is");
}

// ---- defects: shape and limits ---------------------------------------------

TEST(PacketDefectTest, ZeroSoftTokenCount) {
  LipPacket packet = ValidPacket();
  packet.set_soft_token_count(0);
  ExpectDefect(packet, "MISSING_FIELD", "soft_token_count (M) is missing");
}

TEST(PacketDefectTest, ZeroSoftTokenWidth) {
  LipPacket packet = ValidPacket();
  packet.set_soft_token_width(0);
  ExpectDefect(packet, "MISSING_FIELD", "soft_token_width (d) is missing");
}

TEST(PacketDefectTest, SoftTokenCountOverLimit) {
  LipPacket packet = ValidPacket();
  packet.set_soft_token_count(1025);
  ExpectDefect(packet, "LIMIT_EXCEEDED", "soft_token_count M = 1025 exceeds the limit 1024");
}

TEST(PacketDefectTest, SoftTokenWidthOverLimit) {
  LipPacket packet = ValidPacket();
  packet.set_soft_token_width(16385);
  ExpectDefect(packet, "LIMIT_EXCEEDED", "soft_token_width d = 16385 exceeds the limit 16384");
}

TEST(PacketDefectTest, TotalValuesOverLimit) {
  LipPacket packet = ValidPacket();
  packet.set_soft_token_count(1024);
  packet.set_soft_token_width(4096);
  ExpectDefect(packet, "LIMIT_EXCEEDED", "M*d = 1024*4096 = 4194304 values exceeds the limit 2097152");
}

TEST(PacketDefectTest, ReceiverCanTightenLimits) {
  DecodeOptions options;
  options.limits.max_soft_tokens = 4;
  ExpectDefect(ValidPacket(), "LIMIT_EXCEEDED", "soft_token_count M = 8 exceeds the limit 4", options);
}

// ---- defects: calibration, priming, task ------------------------------------

TEST(PacketDefectTest, NonFiniteCalibration) {
  LipPacket packet = ValidPacket();
  packet.mutable_calibration()->set_source_rms(std::numeric_limits<float>::quiet_NaN());
  ExpectDefect(packet, "NON_FINITE_VALUE", "calibration.source_rms is nan");
}

TEST(PacketDefectTest, NegativeTargetEnergy) {
  LipPacket packet = ValidPacket();
  packet.mutable_calibration()->set_target_reference_energy(-1.0f);
  ExpectDefect(packet, "INVALID_FIELD", "calibration.target_reference_energy is -1, must be >= 0");
}

TEST(PacketDefectTest, UnknownEnergyMode) {
  LipPacket packet = ValidPacket();
  packet.mutable_calibration()->set_energy_mode(static_cast<lip::v1::EnergyMode>(42));
  ExpectDefect(packet, "INVALID_FIELD", "calibration.energy_mode is 42");
}

TEST(PacketDefectTest, PrimingTextOverLimit) {
  LipPacket packet = ValidPacket();
  packet.mutable_priming()->set_anchor(std::string((64 << 10) + 1, 'a'));
  ExpectDefect(packet, "LIMIT_EXCEEDED", "priming.anchor is 65537 bytes, limit is 65536");
}

TEST(PacketDefectTest, MissingTask) {
  LipPacket packet = ValidPacket();
  packet.clear_task();
  ExpectDefect(packet, "MISSING_FIELD", "task (classify or generate) is missing");
}

TEST(PacketDefectTest, ClassifyWithoutLabels) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_classify()->clear_labels();
  ExpectDefect(packet, "MISSING_FIELD", "task.classify.labels is missing");
}

TEST(PacketDefectTest, EmptyLabel) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_classify()->add_labels("");
  ExpectDefect(packet, "INVALID_FIELD", "task.classify.labels[2] is empty");
}

TEST(PacketDefectTest, DuplicateLabel) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_classify()->add_labels("world");
  ExpectDefect(packet, "INVALID_FIELD", "task.classify.labels[2] \"world\" repeats labels[0]");
}

TEST(PacketDefectTest, GenerateWithZeroTokenBudget) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_generate()->set_max_new_tokens(0);
  ExpectDefect(packet, "MISSING_FIELD", "task.generate.max_new_tokens (0) is missing");
}

TEST(PacketDefectTest, GenerateTokenBudgetOverLimit) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_generate()->set_max_new_tokens(1025);
  ExpectDefect(packet, "LIMIT_EXCEEDED", "task.generate.max_new_tokens is 1025, limit is 1024");
}

TEST(PacketDefectTest, GenerateTopPOutOfRange) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_generate()->set_max_new_tokens(16);
  packet.mutable_task()->mutable_generate()->set_top_p(1.5f);
  ExpectDefect(packet, "INVALID_FIELD", "task.generate.top_p is 1.5, must be in [0, 1]");
}

TEST(PacketDefectTest, GenerateNonFiniteTemperature) {
  LipPacket packet = ValidPacket();
  packet.mutable_task()->mutable_generate()->set_max_new_tokens(16);
  packet.mutable_task()->mutable_generate()->set_temperature(std::numeric_limits<float>::infinity());
  ExpectDefect(packet, "NON_FINITE_VALUE", "task.generate.temperature is inf");
}

// ---- defects: tensor -----------------------------------------------------------

TEST(PacketDefectTest, MissingTensor) {
  LipPacket packet = ValidPacket();
  packet.clear_tensor();
  ExpectDefect(packet, "MISSING_FIELD", "tensor is missing");
}

TEST(PacketDefectTest, UnspecifiedDtype) {
  LipPacket packet = ValidPacket();
  packet.mutable_tensor()->set_dtype(lip::v1::DTYPE_UNSPECIFIED);
  ExpectDefect(packet, "UNKNOWN_DTYPE", "tensor.dtype is 0 (DTYPE_UNSPECIFIED)");
}

TEST(PacketDefectTest, UnknownDtypeFromTheFuture) {
  LipPacket packet = ValidPacket();
  packet.mutable_tensor()->set_dtype(static_cast<lip::v1::DType>(9));
  ExpectDefect(packet, "UNKNOWN_DTYPE", "tensor.dtype is 9; expected DTYPE_FP32 (1)");
}

TEST(PacketDefectTest, PayloadShorterThanMTimesD) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP16);
  packet.mutable_tensor()->mutable_data()->resize(kRows * kCols * 2 - 2);
  Reseal(packet);
  ExpectDefect(packet, "PAYLOAD_SIZE_MISMATCH", "tensor.data is 1022 bytes, expected M*d*2 = 8*64*2 = 1024 for fp16");
}

TEST(PacketDefectTest, PayloadSizeOfAnotherDtype) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP32);
  packet.mutable_tensor()->set_dtype(lip::v1::DTYPE_BF16);
  Reseal(packet);
  ExpectDefect(packet, "PAYLOAD_SIZE_MISMATCH", "tensor.data is 2048 bytes, expected M*d*2 = 8*64*2 = 1024 for bf16");
}

TEST(PacketDefectTest, Int8WithWrongScaleCount) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  packet.mutable_tensor()->mutable_scales()->RemoveLast();
  Reseal(packet);
  ExpectDefect(packet, "PAYLOAD_SIZE_MISMATCH", "tensor.scales has 7 entries, expected 8 (one per row, M) for int8");
}

TEST(PacketDefectTest, ScalesOnAFloatDtype) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP16);
  packet.mutable_tensor()->add_scales(1.0f);
  Reseal(packet);
  ExpectDefect(packet, "PAYLOAD_SIZE_MISMATCH", "tensor.scales has 1 entries, expected 0");
}

TEST(PacketDefectTest, FlippedPayloadBitFailsChecksum) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP16);
  (*packet.mutable_tensor()->mutable_data())[100] ^= 0x10;
  ExpectDefect(packet, "CHECKSUM_MISMATCH", "tensor.crc32c is 0x");
}

TEST(PacketDefectTest, ChangedScaleFailsChecksum) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  packet.mutable_tensor()->set_scales(3, packet.tensor().scales(3) * 2);
  ExpectDefect(packet, "CHECKSUM_MISMATCH", "but CRC32C of data||scales is 0x");
}

TEST(PacketDefectTest, NanInFp16Payload) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP16);
  // value at row 2, col 5 := 0x7E00 (quiet NaN), little-endian.
  std::string& data = *packet.mutable_tensor()->mutable_data();
  data[2 * (2 * kCols + 5)] = '\x00';
  data[2 * (2 * kCols + 5) + 1] = '\x7E';
  Reseal(packet);
  ExpectDefect(packet, "NON_FINITE_VALUE", "tensor value at row 2 col 5 is nan");
}

TEST(PacketDefectTest, InfinityInFp32Payload) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_FP32);
  const float inf = -std::numeric_limits<float>::infinity();
  std::memcpy(&(*packet.mutable_tensor()->mutable_data())[4 * 7], &inf, 4);
  Reseal(packet);
  ExpectDefect(packet, "NON_FINITE_VALUE", "tensor value at row 0 col 7 is -inf");
}

TEST(PacketDefectTest, InfinityInBf16Payload) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_BF16);
  std::string& data = *packet.mutable_tensor()->mutable_data();
  data[2 * kCols] = '\x80';
  data[2 * kCols + 1] = '\x7F';
  Reseal(packet);
  ExpectDefect(packet, "NON_FINITE_VALUE", "tensor value at row 1 col 0 is inf");
}

TEST(PacketDefectTest, NonFiniteInt8Scale) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  packet.mutable_tensor()->set_scales(4, std::numeric_limits<float>::quiet_NaN());
  Reseal(packet);
  ExpectDefect(packet, "NON_FINITE_VALUE", "tensor.scales[4] is nan");
}

TEST(PacketDefectTest, ZeroInt8Scale) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  packet.mutable_tensor()->set_scales(0, 0.0f);
  Reseal(packet);
  ExpectDefect(packet, "INVALID_FIELD", "tensor.scales[0] is 0, must be > 0");
}

TEST(PacketDefectTest, Int8MinusOneTwentyEight) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  (*packet.mutable_tensor()->mutable_data())[kCols + 3] = '\x80';
  Reseal(packet);
  ExpectDefect(packet, "INVALID_FIELD", "int8 value at row 1 col 3 is -128");
}

TEST(PacketDefectTest, Int8ScaleThatOverflowsFp32) {
  LipPacket packet = ValidPacket(lip::v1::DTYPE_INT8);
  packet.mutable_tensor()->set_scales(0, std::numeric_limits<float>::max());
  Reseal(packet);
  ExpectDefect(packet, "NON_FINITE_VALUE", "(int8 * scale overflows fp32)");
}

// ---- encoder-side refusals ---------------------------------------------------

TEST(BuildPacketTest, RefusesNanInput) {
  std::vector<float> values = TestValues(2, 4);
  values[5] = std::numeric_limits<float>::quiet_NaN();
  absl::StatusOr<LipPacket> packet = BuildPacket(TestMetadata(), values, 2, 4, lip::v1::DTYPE_FP32);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(PacketErrorReason(packet.status()), "NON_FINITE_VALUE");
  EXPECT_THAT(std::string(packet.status().message()), HasSubstr("input value at row 1 col 1 is nan"));
}

TEST(BuildPacketTest, RefusesValuesThatOverflowFp16) {
  std::vector<float> values = TestValues(2, 4);
  values[2] = 70000.0f;
  absl::StatusOr<LipPacket> packet = BuildPacket(TestMetadata(), values, 2, 4, lip::v1::DTYPE_FP16);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(PacketErrorReason(packet.status()), "NON_FINITE_VALUE");
  EXPECT_THAT(std::string(packet.status().message()), HasSubstr("input value 70000 at row 0 col 2 overflows fp16"));
  // The same value fits bf16 and fp32.
  EXPECT_TRUE(BuildPacket(TestMetadata(), values, 2, 4, lip::v1::DTYPE_BF16).ok());
}

TEST(BuildPacketTest, RefusesShapeMismatch) {
  const std::vector<float> values = TestValues(2, 4);
  absl::StatusOr<LipPacket> packet = BuildPacket(TestMetadata(), values, 3, 4, lip::v1::DTYPE_FP32);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(PacketErrorReason(packet.status()), "PAYLOAD_SIZE_MISMATCH");
  EXPECT_THAT(std::string(packet.status().message()), HasSubstr("got 8 values, expected rows*cols = 3*4 = 12"));
}

TEST(BuildPacketTest, RefusesMetadataTheDecoderWouldRefuse) {
  PacketMetadata meta = TestMetadata();
  meta.sender_model.clear_name();
  absl::StatusOr<LipPacket> packet = BuildPacket(meta, TestValues(2, 4), 2, 4, lip::v1::DTYPE_FP32);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(PacketErrorReason(packet.status()), "MISSING_FIELD");
}

TEST(BuildPacketTest, RefusesUnspecifiedDtype) {
  absl::StatusOr<LipPacket> packet =
      BuildPacket(TestMetadata(), TestValues(2, 4), 2, 4, lip::v1::DTYPE_UNSPECIFIED);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(PacketErrorReason(packet.status()), "UNKNOWN_DTYPE");
}

// ---- helpers -------------------------------------------------------------------

TEST(PacketErrorTest, ReasonIsEmptyForOkAndForeignStatuses) {
  EXPECT_EQ(PacketErrorReason(absl::OkStatus()), "");
  EXPECT_EQ(PacketErrorReason(absl::InvalidArgumentError("x")), "");
  EXPECT_EQ(PacketErrorReason(PacketError(PacketDefect::kChecksumMismatch, "x")), "CHECKSUM_MISMATCH");
  EXPECT_EQ(PacketError(PacketDefect::kVersionMismatch, "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PacketError(PacketDefect::kMalformed, "x").code(), absl::StatusCode::kInvalidArgument);
}

TEST(DTypeNameTest, ParsesAndNames) {
  for (auto d : {lip::v1::DTYPE_FP32, lip::v1::DTYPE_FP16, lip::v1::DTYPE_BF16, lip::v1::DTYPE_INT8}) {
    absl::StatusOr<lip::v1::DType> parsed = ParseDTypeName(DTypeName(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_THAT(std::string(ParseDTypeName("fp8").status().message()), HasSubstr("\"fp8\" is not one of"));
}

}  // namespace
}  // namespace lip
