#include "common/wire/packet_error.h"

#include "absl/strings/cord.h"

namespace lip {

absl::string_view PacketDefectReason(PacketDefect defect) {
  switch (defect) {
    case PacketDefect::kMalformed: return "MALFORMED";
    case PacketDefect::kVersionMismatch: return "VERSION_MISMATCH";
    case PacketDefect::kMissingField: return "MISSING_FIELD";
    case PacketDefect::kInvalidField: return "INVALID_FIELD";
    case PacketDefect::kUnknownDType: return "UNKNOWN_DTYPE";
    case PacketDefect::kLimitExceeded: return "LIMIT_EXCEEDED";
    case PacketDefect::kPayloadSizeMismatch: return "PAYLOAD_SIZE_MISMATCH";
    case PacketDefect::kChecksumMismatch: return "CHECKSUM_MISMATCH";
    case PacketDefect::kNonFiniteValue: return "NON_FINITE_VALUE";
  }
  return "MALFORMED";
}

absl::Status PacketError(PacketDefect defect, absl::string_view message) {
  const absl::StatusCode code = defect == PacketDefect::kVersionMismatch
                                    ? absl::StatusCode::kFailedPrecondition
                                    : absl::StatusCode::kInvalidArgument;
  absl::Status status(code, message);
  status.SetPayload(kPacketErrorReasonTypeUrl, absl::Cord(PacketDefectReason(defect)));
  return status;
}

absl::Status WithPacketErrorReason(absl::Status status, absl::string_view reason) {
  if (status.ok() || reason.empty()) return status;
  status.SetPayload(kPacketErrorReasonTypeUrl, absl::Cord(reason));
  return status;
}

std::string PacketErrorReason(const absl::Status& status) {
  if (status.ok()) return "";
  absl::optional<absl::Cord> reason = status.GetPayload(kPacketErrorReasonTypeUrl);
  return reason.has_value() ? std::string(*reason) : std::string();
}

}  // namespace lip
