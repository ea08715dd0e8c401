// The LIP 1.1 compact wire's pieces (common/wire/compact_packet.h): headers, ids, the compact form
// and its expansion, and the request-level order of checks.
#include "common/wire/compact_packet.h"

#include <map>
#include <memory>

#include "common/wire/lip_version.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

lip::v1::LipPacket MakePacket(uint64_t sequence, float offset, lip::v1::DType dtype = lip::v1::DTYPE_INT8) {
  PacketMetadata meta;
  meta.conversation_id = "c";
  meta.sequence = sequence;
  meta.sender_model.set_name("sender");
  meta.bridge.set_name("bridge");
  meta.calibration.set_energy_mode(lip::v1::ENERGY_MODE_RMS);
  meta.task.mutable_classify()->add_labels("a");
  meta.task.mutable_classify()->add_labels("b");
  std::vector<float> values(4 * 32);
  for (size_t i = 0; i < values.size(); ++i) values[i] = offset + 0.01f * static_cast<float>(i % 17) - 0.05f;
  absl::StatusOr<lip::v1::LipPacket> packet = BuildPacket(meta, values, 4, 32, dtype);
  EXPECT_TRUE(packet.ok()) << packet.status();
  return packet.ok() ? *packet : lip::v1::LipPacket();
}

HeaderLookup LookupIn(const std::map<uint64_t, std::shared_ptr<const lip::v1::LipPacket>>& headers) {
  return [&headers](uint64_t id) {
    auto it = headers.find(id);
    return it == headers.end() ? nullptr : it->second;
  };
}

TEST(CompactPacketTest, HeaderDropsEveryPerMessageField) {
  const lip::v1::LipPacket header = PacketHeader(WithHeaderId(MakePacket(3, 0.5f), 42));
  EXPECT_TRUE(header.packet_id().empty());
  EXPECT_EQ(header.sequence(), 0u);
  EXPECT_EQ(header.created_unix_nanos(), 0);
  EXPECT_EQ(header.header_id(), 0u);
  EXPECT_EQ(header.calibration().source_rms(), 0.0f);
  EXPECT_EQ(header.calibration().source_mean_norm(), 0.0f);
  EXPECT_EQ(header.calibration().energy_mode(), lip::v1::ENERGY_MODE_RMS);
  EXPECT_TRUE(header.tensor().data().empty());
  EXPECT_EQ(header.tensor().scales_size(), 0);
  EXPECT_EQ(header.tensor().dtype(), lip::v1::DTYPE_INT8);
  EXPECT_EQ(header.conversation_id(), "c");
  EXPECT_EQ(header.task().classify().labels_size(), 2);
}

TEST(CompactPacketTest, EqualHeadersShareAnIdAndOthersDoNot) {
  EXPECT_EQ(HeaderIdFor(MakePacket(0, 0.5f)), HeaderIdFor(MakePacket(9, -0.25f)));
  lip::v1::LipPacket other_task = MakePacket(0, 0.5f);
  other_task.mutable_task()->mutable_classify()->add_labels("c");
  EXPECT_NE(HeaderIdFor(MakePacket(0, 0.5f)), HeaderIdFor(other_task));
  EXPECT_NE(HeaderIdFor(MakePacket(0, 0.5f)), HeaderIdFor(MakePacket(0, 0.5f, lip::v1::DTYPE_FP16)));
  EXPECT_NE(HeaderIdFor(MakePacket(0, 0.5f)), 0u);
}

TEST(CompactPacketTest, WithHeaderIdRaisesTheMinorOnly) {
  const lip::v1::LipPacket plain = MakePacket(0, 0.5f);
  EXPECT_EQ(plain.version().minor(), kLipMinorBase);
  const lip::v1::LipPacket marked = WithHeaderId(plain, 7);
  EXPECT_EQ(marked.header_id(), 7u);
  EXPECT_EQ(marked.version().major(), kLipProtocolMajor);
  EXPECT_EQ(marked.version().minor(), kLipMinorCompactWire);
  EXPECT_TRUE(ValidatePacket(marked).ok());
}

TEST(CompactPacketTest, CompactMessageExpandsToTheSameValues) {
  const lip::v1::LipPacket first = MakePacket(0, 0.5f);
  const uint64_t id = HeaderIdFor(first);
  const lip::v1::LipPacket header = PacketHeader(WithHeaderId(first, id));
  lip::v1::LipPacket later = MakePacket(5, -0.125f);
  later.set_packet_id(DerivedPacketId(id, 5));
  const lip::v1::CompactPacket compact = CompactFromPacket(later, id);
  EXPECT_TRUE(compact.packet_id().empty()) << "a derived id is not sent";
  EXPECT_EQ(compact.tensor().dtype(), lip::v1::DTYPE_UNSPECIFIED);
  // M=4, d=32 int8: the tensor, 4 scales, the checksum, the reference and the sequence.
  EXPECT_LE(compact.ByteSizeLong(), 232u);

  absl::StatusOr<lip::v1::LipPacket> expanded = ExpandCompactPacket(compact, header);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_EQ(expanded->packet_id(), later.packet_id());
  EXPECT_EQ(expanded->sequence(), 5u);
  EXPECT_EQ(expanded->conversation_id(), "c");
  EXPECT_EQ(expanded->header_id(), 0u);
  absl::StatusOr<std::vector<float>> got = ValidateAndDequantize(*expanded);
  absl::StatusOr<std::vector<float>> want = ValidateAndDequantize(later);
  ASSERT_TRUE(got.ok() && want.ok()) << got.status();
  EXPECT_EQ(*got, *want);
}

TEST(CompactPacketTest, ExplicitPacketIdTravels) {
  const lip::v1::LipPacket packet = MakePacket(2, 0.5f);
  const lip::v1::CompactPacket compact = CompactFromPacket(packet, 99);
  EXPECT_EQ(compact.packet_id(), packet.packet_id());
  absl::StatusOr<lip::v1::LipPacket> expanded = ExpandCompactPacket(compact, PacketHeader(packet));
  ASSERT_TRUE(expanded.ok());
  EXPECT_EQ(expanded->packet_id(), packet.packet_id());
}

TEST(CompactPacketTest, DerivedIdIsHeaderThenSequenceLittleEndian) {
  EXPECT_EQ(HexBytes(DerivedPacketId(0x0102030405060708u, 0x10)), "08070605040302011000000000000000");
}

TEST(CompactPacketTest, RequestChecksComeInTheDocumentedOrder) {
  std::map<uint64_t, std::shared_ptr<const lip::v1::LipPacket>> headers;
  const lip::v1::LipPacket packet = MakePacket(1, 0.5f);
  const uint64_t id = HeaderIdFor(packet);
  auto reason_of = [&](lip::v1::SendLatentRequest request) {
    absl::StatusOr<lip::v1::LipPacket> taken = PacketOfRequest(&request, LookupIn(headers));
    if (taken.ok()) {
      absl::Status valid = ValidatePacket(*taken);
      return valid.ok() ? std::string("OK") : PacketErrorReason(valid);
    }
    return PacketErrorReason(taken.status());
  };
  lip::v1::SendLatentRequest compact;
  *compact.mutable_compact() = CompactFromPacket(packet, id);
  EXPECT_EQ(reason_of(compact), "HEADER_NOT_CACHED");
  {
    lip::v1::SendLatentRequest request = compact;
    absl::StatusOr<lip::v1::LipPacket> taken = PacketOfRequest(&request, LookupIn(headers));
    EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  headers[id] = std::make_shared<lip::v1::LipPacket>(PacketHeader(packet));
  EXPECT_EQ(reason_of(compact), "OK");

  lip::v1::SendLatentRequest both = compact;
  *both.mutable_packet() = packet;
  EXPECT_EQ(reason_of(both), "INVALID_FIELD");
  lip::v1::SendLatentRequest no_id = compact;
  no_id.mutable_compact()->clear_header_id();
  EXPECT_EQ(reason_of(no_id), "MISSING_FIELD");
  lip::v1::SendLatentRequest bad_crc = compact;
  bad_crc.mutable_compact()->mutable_tensor()->set_crc32c(packet.tensor().crc32c() ^ 1);
  EXPECT_EQ(reason_of(bad_crc), "CHECKSUM_MISMATCH");
  lip::v1::SendLatentRequest bad_scales = compact;
  bad_scales.mutable_compact()->mutable_tensor()->add_scales(1.0f);
  EXPECT_EQ(reason_of(bad_scales), "PAYLOAD_SIZE_MISMATCH");
  lip::v1::SendLatentRequest full;
  *full.mutable_packet() = packet;
  EXPECT_EQ(reason_of(full), "OK");
  EXPECT_EQ(reason_of(lip::v1::SendLatentRequest()), "MISSING_FIELD");
}

}  // namespace
}  // namespace lip
