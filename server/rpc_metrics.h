// RpcMetrics: the per-RPC Prometheus metrics every LIP node exports —
//   lip_rpc_requests_total{service, method, code}   counter
//   lip_rpc_latency_ms{service, method}             histogram
//   lip_rpc_in_flight{service, method}              gauge (calls being handled now; a
//                                                   draining node shows them going to 0)
// Use one RpcTimer per call; it records when Finish() is called.
// MessageCounter: a service's own "messages by RPC and status code" counter.
// Thread-safe; the metrics::Registry must outlive these objects.
#ifndef LIP_SERVER_RPC_METRICS_H_
#define LIP_SERVER_RPC_METRICS_H_

#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "common/node/metrics.h"

namespace lip {

class RpcMetrics {
 public:
  RpcMetrics(metrics::Registry& registry, std::string service);
  void Record(const std::string& method, grpc::StatusCode code, double latency_ms);
  // +1 / -1 on lip_rpc_in_flight{service, method}.
  void AddInFlight(const std::string& method, double delta);

 private:
  const std::string service_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Family<metrics::Gauge>& in_flight_;
};

// Measures one call: construct at the start, Finish(status) at the end. The
// call counts as in flight from construction to Finish (or destruction).
class RpcTimer {
 public:
  RpcTimer(RpcMetrics& metrics, std::string method);
  ~RpcTimer();
  RpcTimer(const RpcTimer&) = delete;
  RpcTimer& operator=(const RpcTimer&) = delete;

  // Records and passes the status through: `return timer.Finish(status);`
  grpc::Status Finish(grpc::Status status);
  // The same for a library status: converted with ToGrpcStatus, its error
  // reason (if any) put in `context`'s trailing metadata.
  grpc::Status Finish(const absl::Status& status, grpc::ServerContextBase* context);

 private:
  RpcMetrics& metrics_;
  const std::string method_;
  const absl::Time start_;
  bool finished_ = false;
};

// lip_<node>_messages_total{rpc, code}: what a service answered per message.
class MessageCounter {
 public:
  MessageCounter(metrics::Registry& registry, const std::string& name, const std::string& help);
  void Count(const char* rpc, const absl::Status& status);

 private:
  metrics::Family<metrics::Counter>& counter_;
};

// "OK", "INVALID_ARGUMENT", ... for metric labels and logs.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace lip

#endif  // LIP_SERVER_RPC_METRICS_H_
