#include "common/wire/compact_packet.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/wire/lip_version.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"

namespace lip {
namespace {

constexpr size_t kPacketIdBytes = 16;

void AppendLittleEndian64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

}  // namespace

lip::v1::LipPacket PacketHeader(const lip::v1::LipPacket& packet) {
  lip::v1::LipPacket header = packet;
  header.clear_packet_id();
  header.clear_sequence();
  header.clear_created_unix_nanos();
  header.clear_header_id();
  if (header.has_calibration()) {
    header.mutable_calibration()->clear_source_rms();
    header.mutable_calibration()->clear_source_mean_norm();
  }
  if (header.has_tensor()) {
    header.mutable_tensor()->clear_data();
    header.mutable_tensor()->clear_scales();
    header.mutable_tensor()->clear_crc32c();
  }
  return header;
}

uint64_t HeaderIdFor(const lip::v1::LipPacket& packet) {
  const std::string bytes = SerializePacket(PacketHeader(packet));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id |= uint64_t{digest[i]} << (8 * i);
  return id == 0 ? 1 : id;
}

std::string DerivedPacketId(uint64_t header_id, uint64_t sequence) {
  std::string id;
  id.reserve(kPacketIdBytes);
  AppendLittleEndian64(header_id, &id);
  AppendLittleEndian64(sequence, &id);
  return id;
}

lip::v1::LipPacket WithHeaderId(lip::v1::LipPacket packet, uint64_t header_id) {
  packet.set_header_id(header_id);
  packet.mutable_version()->set_minor(std::max(packet.version().minor(), kLipMinorCompactWire));
  return packet;
}

lip::v1::CompactPacket CompactFromPacket(const lip::v1::LipPacket& packet, uint64_t header_id) {
  lip::v1::CompactPacket compact;
  compact.set_header_id(header_id);
  compact.set_sequence(packet.sequence());
  compact.set_created_unix_nanos(packet.created_unix_nanos());
  if (packet.packet_id() != DerivedPacketId(header_id, packet.sequence())) compact.set_packet_id(packet.packet_id());
  lip::v1::Tensor* tensor = compact.mutable_tensor();
  tensor->set_data(packet.tensor().data());
  *tensor->mutable_scales() = packet.tensor().scales();
  tensor->set_crc32c(packet.tensor().crc32c());
  return compact;
}

absl::Status CheckCompactPacket(const lip::v1::CompactPacket& compact) {
  if (compact.header_id() == 0) {
    return PacketError(PacketDefect::kMissingField, "compact.header_id is missing (0)");
  }
  if (!compact.packet_id().empty() && compact.packet_id().size() != kPacketIdBytes) {
    return PacketError(PacketDefect::kInvalidField,
                       absl::StrCat("compact.packet_id is ", compact.packet_id().size(),
                                    " bytes, expected 16 (or none, for the derived id)"));
  }
  if (!compact.has_tensor()) return PacketError(PacketDefect::kMissingField, "compact.tensor is missing");
  return absl::OkStatus();
}

absl::StatusOr<lip::v1::LipPacket> ExpandCompactPacket(const lip::v1::CompactPacket& compact,
                                                       const lip::v1::LipPacket& header) {
  if (absl::Status status = CheckCompactPacket(compact); !status.ok()) return status;
  const lip::v1::DType dtype = header.tensor().dtype();
  if (compact.tensor().dtype() != lip::v1::DTYPE_UNSPECIFIED && compact.tensor().dtype() != dtype) {
    return PacketError(PacketDefect::kInvalidField,
                       absl::StrCat("compact.tensor.dtype is ", DTypeName(compact.tensor().dtype()),
                                    ", the header's is ", DTypeName(dtype), " (a compact message may only omit it)"));
  }
  lip::v1::LipPacket packet = header;
  packet.clear_header_id();
  packet.set_packet_id(compact.packet_id().empty() ? DerivedPacketId(compact.header_id(), compact.sequence())
                                                   : compact.packet_id());
  packet.set_sequence(compact.sequence());
  packet.set_created_unix_nanos(compact.created_unix_nanos());
  lip::v1::Tensor* tensor = packet.mutable_tensor();
  tensor->set_dtype(dtype);
  tensor->set_data(compact.tensor().data());
  *tensor->mutable_scales() = compact.tensor().scales();
  tensor->set_crc32c(compact.tensor().crc32c());
  return packet;
}

absl::StatusOr<lip::v1::LipPacket> PacketOfRequest(lip::v1::SendLatentRequest* request, const HeaderLookup& lookup) {
  if (request->has_packet() && request->has_compact()) {
    return PacketError(PacketDefect::kInvalidField,
                       "the request carries both a packet and a compact message; send exactly one");
  }
  if (!request->has_compact()) return std::move(*request->mutable_packet());
  const lip::v1::CompactPacket& compact = request->compact();
  if (absl::Status status = CheckCompactPacket(compact); !status.ok()) return status;
  std::shared_ptr<const lip::v1::LipPacket> header = lookup(compact.header_id());
  if (header == nullptr) {
    return WithPacketErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "compact message names header ", absl::Hex(compact.header_id(), absl::kZeroPad16),
            ", which this receiver does not hold for this caller (never sent, evicted, or the receiver "
            "restarted); send the message in full with header_id set")),
        kReasonHeaderNotCached);
  }
  return ExpandCompactPacket(compact, *header);
}

}  // namespace lip
