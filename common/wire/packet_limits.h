// Size limits a LIP v1 packet must respect (docs/protocol.md §6).
//
// The defaults are the normative protocol maxima: every conforming receiver
// accepts packets within them. A receiver may tighten them (never loosen) in
// DecodeOptions; a packet over a limit is refused with INVALID_ARGUMENT and
// reason LIMIT_EXCEEDED. Plain value type; copy freely.
#ifndef LIP_COMMON_WIRE_PACKET_LIMITS_H_
#define LIP_COMMON_WIRE_PACKET_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace lip {

struct PacketLimits {
  // Serialized LipPacket size, checked before parsing.
  size_t max_packet_bytes = 16u << 20;  // 16 MiB
  // Soft-token count M (rows) and width d (columns).
  uint32_t max_soft_tokens = 1024;
  uint32_t max_soft_token_width = 16384;
  // M * d: 2^21 values = 8 MiB of fp32 payload.
  uint64_t max_values = uint64_t{1} << 21;
  // Context prefix and anchor, each, in UTF-8 bytes.
  size_t max_priming_bytes = 64u << 10;
  // Classification labels: count and bytes per label.
  uint32_t max_labels = 1024;
  size_t max_label_bytes = 1024;
  // Generation: new-token budget, stop strings (count and bytes each).
  uint32_t max_new_tokens = 1024;
  uint32_t max_stop_strings = 16;
  size_t max_stop_bytes = 256;
  // Intended receivers listed in one packet.
  uint32_t max_receiver_models = 64;
  // Any other string field (ids, names, revisions, digests, conversation id).
  size_t max_id_bytes = 512;
};

// The largest gRPC message any LIP node or client sends or accepts: a packet of
// max_packet_bytes plus its request/response envelope (docs/protocol.md §6). Set
// as gRPC's max receive/send message size on every server and channel, so an
// oversized message is refused by gRPC (RESOURCE_EXHAUSTED) before it is parsed.
inline constexpr size_t kMaxGrpcMessageBytes = (16u << 20) + (64u << 10);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_PACKET_LIMITS_H_
