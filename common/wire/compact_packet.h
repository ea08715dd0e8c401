// The LIP 1.1 compact wire (docs/protocol.md §12): a packet's constant metadata — its *header* —
// goes to a receiver once, and later messages carry only a reference to it (header_id), the
// tensor, a sequence number and the checksum.
//
//   sender:   packet -> WithHeaderId (full, asks the receiver to keep its header) ... then
//             packet -> CompactFromPacket -> CompactPacket (once the receiver said header_cached)
//   receiver: full packet with header_id -> PacketHeader -> its cache (server/receiver/header_cache.h)
//             CompactPacket -> CheckCompactPacket -> cache lookup -> ExpandCompactPacket -> the
//             full packet, validated like any other (common/wire/packet_codec.h)
//
// A compact message decodes to exactly the values of the full packet it replaces: the tensor
// bytes are the same bytes. Errors carry a reason as the codec's do (common/wire/packet_error.h).
// Pure functions; thread-safe.
#ifndef LIP_COMMON_WIRE_COMPACT_PACKET_H_
#define LIP_COMMON_WIRE_COMPACT_PACKET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lip/v1/packet.pb.h"
#include "lip/v1/receiver.pb.h"

namespace lip {

// The header of `packet`: a copy without the per-message fields — packet_id, sequence,
// created_unix_nanos, calibration.source_rms and source_mean_norm (measured per message), the
// tensor's data, scales and crc32c (its dtype stays) — and with header_id cleared.
lip::v1::LipPacket PacketHeader(const lip::v1::LipPacket& packet);

// The id a client gives the header of `packet`: the first 8 bytes of SHA-256 over
// SerializePacket(PacketHeader(packet)), read little-endian (1 if they are all zero). Any
// non-zero id is valid on the wire; this choice gives equal headers equal ids.
uint64_t HeaderIdFor(const lip::v1::LipPacket& packet);

// The packet id of a compact message that carries none: header_id then sequence, 8 bytes each,
// little-endian.
std::string DerivedPacketId(uint64_t header_id, uint64_t sequence);

// `packet` asking the receiver to keep its header under `header_id` (not 0): header_id set and
// version.minor raised to at least 1 (the minor that defines it).
lip::v1::LipPacket WithHeaderId(lip::v1::LipPacket packet, uint64_t header_id);

// The compact form of `packet`, for a receiver that holds its header under `header_id`:
// sequence, created_unix_nanos, the tensor's data, scales and crc32c (dtype left 0), and the
// packet id unless it equals DerivedPacketId(header_id, packet.sequence()).
lip::v1::CompactPacket CompactFromPacket(const lip::v1::LipPacket& packet, uint64_t header_id);

// The checks a compact message passes before its header is looked up: header_id present
// (MISSING_FIELD when 0), packet_id empty or 16 bytes (INVALID_FIELD), tensor present
// (MISSING_FIELD).
absl::Status CheckCompactPacket(const lip::v1::CompactPacket& compact);

// The full packet `compact` stands for: `header` (as PacketHeader made it) with the compact
// message's packet id (given or derived), sequence, created_unix_nanos and tensor bytes.
// INVALID_FIELD when compact.tensor.dtype is neither 0 nor the header's dtype; otherwise the
// result is not validated here: the receiver validates it as any packet, so a compact
// message's defects get the same reasons as a full packet's. Calibration's measured fields
// stay 0 ("not measured"), header_id stays 0.
absl::StatusOr<lip::v1::LipPacket> ExpandCompactPacket(const lip::v1::CompactPacket& compact,
                                                       const lip::v1::LipPacket& header);

// A receiver's header store as PacketOfRequest sees it: the header the caller left under
// `header_id`, or null.
using HeaderLookup = std::function<std::shared_ptr<const lip::v1::LipPacket>(uint64_t header_id)>;

// The packet a SendLatentRequest carries, moved out of it, in the order docs/protocol.md §12
// gives: both `packet` and `compact` set -> INVALID_FIELD; `compact` set -> CheckCompactPacket,
// then `lookup` (null -> FAILED_PRECONDITION, reason HEADER_NOT_CACHED, naming the id), then
// ExpandCompactPacket; otherwise `packet` (absent = an empty packet, which validation refuses).
// The result still has to be validated (ValidateAndDequantize).
absl::StatusOr<lip::v1::LipPacket> PacketOfRequest(lip::v1::SendLatentRequest* request, const HeaderLookup& lookup);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_COMPACT_PACKET_H_
