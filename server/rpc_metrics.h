// RpcMetrics: the per-RPC Prometheus metrics every LIP node exports —
//   lip_rpc_requests_total{service, method, code}   counter
//   lip_rpc_latency_ms{service, method}             histogram
// Use one RpcTimer per call; it records when Finish() is called.
// Thread-safe; the metrics::Registry must outlive this object.
#ifndef LIP_SERVER_RPC_METRICS_H_
#define LIP_SERVER_RPC_METRICS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/time/clock.h"
#include "common/metrics.h"

namespace lip {

class RpcMetrics {
 public:
  RpcMetrics(metrics::Registry& registry, std::string service);
  void Record(const std::string& method, grpc::StatusCode code, double latency_ms);

 private:
  const std::string service_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
};

// Measures one call: construct at the start, Finish(status) at the end.
class RpcTimer {
 public:
  RpcTimer(RpcMetrics& metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(absl::Now()) {}
  // Records and passes the status through: `return timer.Finish(status);`
  grpc::Status Finish(grpc::Status status) {
    metrics_.Record(method_, status.error_code(), absl::ToDoubleMilliseconds(absl::Now() - start_));
    return status;
  }

 private:
  RpcMetrics& metrics_;
  const std::string method_;
  const absl::Time start_;
};

// "OK", "INVALID_ARGUMENT", ... for metric labels and logs.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace lip

#endif  // LIP_SERVER_RPC_METRICS_H_
