// Converts between absl::Status (how LIP libraries report errors) and
// grpc::Status (what crosses the wire), keeping the machine-readable error
// reason.
//
// The reason ("CHECKSUM_MISMATCH", "VERSION_MISMATCH", "LIMIT_EXCEEDED", ...
// see common/wire/packet_error.h and docs/protocol.md) travels inside an
// absl::Status as the packet codec's payload (kPacketErrorReasonTypeUrl), and
// on the wire as the trailing-metadata entry `lip-error-reason`. Codes map one to one (absl and gRPC share the canonical
// codes).
//
// Thread-safety: pure functions.
#ifndef LIP_COMMON_NODE_GRPC_STATUS_H_
#define LIP_COMMON_NODE_GRPC_STATUS_H_

#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"

namespace lip {

inline constexpr char kErrorReasonMetadataKey[] = "lip-error-reason";

// Returns `status` with `reason` attached the way PacketError() attaches it
// (no-op for OK or an empty reason).
absl::Status WithErrorReason(absl::Status status, absl::string_view reason);
// The attached reason, or "" when there is none (same as PacketErrorReason).
std::string ErrorReasonOf(const absl::Status& status);

// absl -> gRPC. When `context` is given and the status has a reason, the
// reason is added to the trailing metadata.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context = nullptr);

// Whether a client call failed because the connection's TLS handshake failed (a
// certificate refused by either side: unknown CA, expired or not yet valid, wrong
// name, none presented). gRPC 1.51 reports these as UNAVAILABLE with the handshake
// error in the message; no server-side code can change that, since no call exists
// before the handshake completes. See docs/protocol.md, "Errors".
bool IsTlsHandshakeFailure(const grpc::Status& status);

// gRPC -> absl. With `context` (after the call finished), the
// `lip-error-reason` trailer is attached as the reason. A TLS handshake failure
// (IsTlsHandshakeFailure) becomes UNAUTHENTICATED.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context = nullptr);

}  // namespace lip

#endif  // LIP_COMMON_NODE_GRPC_STATUS_H_
