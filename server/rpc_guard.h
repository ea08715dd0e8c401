// RpcGuard: the part every synchronous LIP RPC handler shares, so that a service method holds
// only its own logic (gRPC route_guide style). For one call, Serve():
//   1. counts the call in lip_rpc_in_flight{service, method} while it runs, and its code and
//      time in lip_rpc_requests_total{service, method, code} / lip_rpc_latency_ms (RpcMetrics);
//   2. runs `authorize` first: a refusal (UNAUTHENTICATED, PERMISSION_DENIED, ...) ends the call
//      with that status, and the handler does not run;
//   3. runs `handler` and turns its absl::Status into the gRPC status, the machine-readable error
//      reason (if any) in the trailing metadata `lip-error-reason` (ToGrpcStatus);
//   4. with a MessageCounter, counts the handler's outcome (not a refused authorization) in the
//      service's lip_<node>_messages_total{rpc, code}.
// Streaming handlers (the registry's PutBridge / GetBridge) go through it the same way.
// The receiver answers through gRPC's callback API instead: its reactors (UnaryCall in
// server/receiver/receiver_service.cc, LatentStreamReactor) finish later, on another thread,
// and use RpcTimer and MessageCounter themselves.
//
// Thread-safety: Serve may run concurrently; the metrics::Registry and the MessageCounter must
// outlive the guard.
#ifndef LIP_SERVER_RPC_GUARD_H_
#define LIP_SERVER_RPC_GUARD_H_

#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/node/metrics.h"
#include "server/rpc_metrics.h"

namespace lip {

class RpcGuard {
 public:
  using Step = absl::FunctionRef<absl::Status()>;

  // `service` is the label of every call's metrics, e.g. "lip.v1.Sender". `messages` may be null.
  RpcGuard(metrics::Registry& registry, std::string service, MessageCounter* messages = nullptr);

  // One call of `method` ("Encode", ...): authorize, then handle; see above.
  grpc::Status Serve(grpc::ServerContextBase* context, const char* method, Step authorize,
                     Step handler);

 private:
  RpcMetrics metrics_;
  MessageCounter* const messages_;
};

}  // namespace lip

#endif  // LIP_SERVER_RPC_GUARD_H_
