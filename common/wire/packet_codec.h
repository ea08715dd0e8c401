// The LIP v1 packet codec: builds a LipPacket from a float matrix plus
// metadata, and decodes + validates wire bytes back into floats
// (docs/protocol.md is the normative description of what is checked).
//
// Encoding: the M x d fp32 soft tokens are converted to the wire dtype (fp32,
// fp16, bf16 with round-to-nearest-even, or int8 with one scale per row),
// written little-endian row-major into tensor.data, and protected by a CRC32C
// over data || scales. Decoding refuses any packet that breaks a rule and
// returns a Status whose code is FAILED_PRECONDITION for a major-version
// mismatch and INVALID_ARGUMENT otherwise, with the reason string attached
// (see common/wire/packet_error.h; PacketErrorReason(status) reads it).
//
// All functions are pure (BuildPacket also reads the clock and the random
// source when asked to) and thread-safe. No exceptions; nothing here aborts on
// bad input.
#ifndef LIP_COMMON_WIRE_PACKET_CODEC_H_
#define LIP_COMMON_WIRE_PACKET_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/wire/packet_limits.h"
#include "lip/v1/packet.pb.h"

namespace lip {

// Everything a packet carries besides the tensor, M, d and the version.
struct PacketMetadata {
  // Exactly 16 bytes; empty = 16 fresh random bytes (OpenSSL RAND_bytes).
  std::string packet_id;
  std::string conversation_id;   // empty for unary calls
  uint64_t sequence = 0;
  int64_t created_unix_nanos = 0;  // 0 = now
  lip::v1::ModelId sender_model;   // name required
  std::vector<lip::v1::ModelId> receiver_models;  // empty = any receiver
  lip::v1::BridgeId bridge;        // name required
  uint32_t source_layer = 0;
  // energy_mode and target_reference_energy are copied; source_rms and
  // source_mean_norm are measured by BuildPacket on the fp32 input.
  lip::v1::Calibration calibration;
  lip::v1::Priming priming;
  lip::v1::Task task;              // classify or generate; required
};

// Builds a complete, valid packet from `values` (rows x cols, row-major fp32).
// Errors (INVALID_ARGUMENT with a reason, as for decoding): values.size() !=
// rows*cols, a NaN/inf input or a value that overflows the wire dtype
// (NON_FINITE_VALUE), sizes over `limits`, and any metadata the decoder would
// refuse (e.g. MISSING_FIELD for an empty sender_model.name).
absl::StatusOr<lip::v1::LipPacket> BuildPacket(const PacketMetadata& meta,
                                               absl::Span<const float> values, int64_t rows, int64_t cols,
                                               lip::v1::DType dtype,
                                               const PacketLimits& limits = PacketLimits());

// Serializes deterministically (same packet -> same bytes within one
// protobuf version), which the golden vectors rely on.
std::string SerializePacket(const lip::v1::LipPacket& packet);

struct DecodeOptions {
  PacketLimits limits;  // default: the protocol maxima
};

// A packet that passed every check, with its tensor dequantized to fp32.
struct DecodedPacket {
  lip::v1::LipPacket packet;  // as received (tensor bytes included)
  int64_t rows = 0;           // M
  int64_t cols = 0;           // d
  std::vector<float> values;  // rows * cols, row-major
};

// Parses and validates wire bytes. Unknown fields (from a newer minor) are
// ignored. See the file comment for the error contract.
absl::StatusOr<DecodedPacket> DecodePacket(std::string_view wire_bytes,
                                           const DecodeOptions& options = DecodeOptions());

// Validates an already-parsed packet and returns its dequantized values.
absl::StatusOr<std::vector<float>> ValidateAndDequantize(const lip::v1::LipPacket& packet,
                                                         const PacketLimits& limits = PacketLimits());

// Validates an already-parsed packet (all checks of DecodePacket after parsing).
absl::Status ValidatePacket(const lip::v1::LipPacket& packet, const PacketLimits& limits = PacketLimits());

// CRC32C over tensor.data followed by each scale as little-endian fp32 bits.
uint32_t TensorChecksum(const lip::v1::Tensor& tensor);

// Bytes per value on the wire: 4, 2, 2, 1; 0 for an unknown dtype.
size_t DTypeSize(lip::v1::DType dtype);
// "fp32", "fp16", "bf16", "int8"; "unknown(<n>)" otherwise.
std::string DTypeName(lip::v1::DType dtype);
// Inverse of DTypeName; INVALID_ARGUMENT naming the accepted spellings.
absl::StatusOr<lip::v1::DType> ParseDTypeName(std::string_view name);

// Lowercase hex of a byte string (used for packet ids in logs and JSON).
std::string HexBytes(std::string_view bytes);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_PACKET_CODEC_H_
