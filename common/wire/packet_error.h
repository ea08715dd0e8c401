// The ways a LIP packet can be bad, as absl::Status values that carry a
// machine-readable reason (docs/protocol.md §7).
//
// Every packet defect is reported as
//   FAILED_PRECONDITION  for VERSION_MISMATCH (the peer speaks another major),
//   INVALID_ARGUMENT     for every other reason,
// with a message naming the offending value and the reason string attached as
// a Status payload under kPacketErrorReasonTypeUrl. Servers copy the reason
// into google.rpc.ErrorInfo{reason, domain = kLipErrorDomain} (unary calls) or
// MessageError.reason (streams) so clients can branch on it without parsing
// messages. Pure functions; thread-safe.
#ifndef LIP_COMMON_WIRE_PACKET_ERROR_H_
#define LIP_COMMON_WIRE_PACKET_ERROR_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace lip {

enum class PacketDefect {
  kMalformed,            // "MALFORMED": not a parseable LipPacket protobuf
  kVersionMismatch,      // "VERSION_MISMATCH": major version differs from ours
  kMissingField,         // "MISSING_FIELD": a required field is absent / empty / zero
  kInvalidField,         // "INVALID_FIELD": a field is present but its value is not allowed
  kUnknownDType,         // "UNKNOWN_DTYPE": tensor.dtype is unspecified or unknown
  kLimitExceeded,        // "LIMIT_EXCEEDED": a size is above PacketLimits
  kPayloadSizeMismatch,  // "PAYLOAD_SIZE_MISMATCH": data or scales length != what M, d, dtype imply
  kChecksumMismatch,     // "CHECKSUM_MISMATCH": CRC32C of data||scales differs from tensor.crc32c
  kNonFiniteValue,       // "NON_FINITE_VALUE": NaN or +-inf in the tensor, a scale or calibration
};

// The reason string of a defect, e.g. "PAYLOAD_SIZE_MISMATCH".
absl::string_view PacketDefectReason(PacketDefect defect);

// The Status payload type URL under which the reason string is stored.
inline constexpr absl::string_view kPacketErrorReasonTypeUrl = "type.lip.dev/lip.v1.PacketErrorReason";
// The google.rpc.ErrorInfo domain servers use for these reasons.
inline constexpr absl::string_view kLipErrorDomain = "lip.v1";

// Builds the Status for a defect: code as above, `message` as given, reason attached.
absl::Status PacketError(PacketDefect defect, absl::string_view message);

// `status` with `reason` attached as PacketError attaches it (no-op for OK or an empty reason):
// for the receiver's refusals that are not packet defects (below).
absl::Status WithPacketErrorReason(absl::Status status, absl::string_view reason);

// Reasons of a receiver's refusals of a valid packet (docs/protocol.md §7.2), all with
// FAILED_PRECONDITION: the packet is fine, but not for this receiver or not in this state.
inline constexpr absl::string_view kReasonBridgeMismatch = "BRIDGE_MISMATCH";
inline constexpr absl::string_view kReasonReceiverMismatch = "RECEIVER_MISMATCH";
inline constexpr absl::string_view kReasonCalibrationMismatch = "CALIBRATION_MISMATCH";
// LIP 1.1: a compact message names a header this receiver does not hold (any more) for the
// caller; the caller resends the message in full (docs/protocol.md §12).
inline constexpr absl::string_view kReasonHeaderNotCached = "HEADER_NOT_CACHED";

// The reason attached to `status` by PacketError ("CHECKSUM_MISMATCH", ...),
// or an empty string for OK and for statuses that carry no reason.
std::string PacketErrorReason(const absl::Status& status);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_PACKET_ERROR_H_
