#include "common/node/grpc_status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/wire/packet_error.h"

namespace lip {

absl::Status WithErrorReason(absl::Status status, absl::string_view reason) {
  return WithPacketErrorReason(std::move(status), reason);
}

std::string ErrorReasonOf(const absl::Status& status) {
  return PacketErrorReason(status);
}

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  const std::string reason = ErrorReasonOf(status);
  if (context != nullptr && !reason.empty()) {
    context->AddTrailingMetadata(kErrorReasonMetadataKey, reason);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

bool IsTlsHandshakeFailure(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string message = absl::AsciiStrToLower(status.error_message());
  return absl::StrContains(message, "handshake failed");
}

absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext* context) {
  if (status.ok()) return absl::OkStatus();
  if (IsTlsHandshakeFailure(status)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "TLS handshake failed: the peer's certificate was refused (or it refused ours): ",
        status.error_message()));
  }
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (context != nullptr) {
    const auto& trailers = context->GetServerTrailingMetadata();
    auto it = trailers.find(kErrorReasonMetadataKey);
    if (it != trailers.end()) {
      out = WithErrorReason(std::move(out), absl::string_view(it->second.data(), it->second.size()));
    }
  }
  return out;
}

}  // namespace lip
