// One call of gRPC's standard health service (grpc.health.v1.Health/Check) against a LIP node,
// over the same mutual TLS as every other client call. Every node enables the service
// (server/node_server.h): SERVING while it accepts calls, NOT_SERVING once it drains.
//
// Debian's gRPC ships no generated stub for health.proto, so the two one-field messages are
// written and read by hand (HealthCheckRequest{string service = 1},
// HealthCheckResponse{ServingStatus status = 1}).
#ifndef LIP_CLIENT_HEALTH_CHECK_H_
#define LIP_CLIENT_HEALTH_CHECK_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/lip_client.h"

namespace lip {

// grpc.health.v1.HealthCheckResponse.ServingStatus, same numbers.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN".
const char* ServingStatusName(ServingStatus status);

// Asks the node at options.address for the health of `service` ("" = the whole server).
// Returns the node's answer; an error when the call itself fails (the node's gRPC status:
// UNAVAILABLE when it cannot be reached, UNAUTHENTICATED when its certificate is refused,
// NOT_FOUND for a service it does not know, DEADLINE_EXCEEDED after options.timeout), or
// DATA_LOSS when the answer does not parse. Thread-safe; blocks for at most options.timeout.
absl::StatusOr<ServingStatus> CheckHealth(const ClientOptions& options, const std::string& service = "");

}  // namespace lip

#endif  // LIP_CLIENT_HEALTH_CHECK_H_
