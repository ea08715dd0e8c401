#include "server/rpc_metrics.h"

#include "common/node/grpc_status.h"

namespace lip {

RpcMetrics::RpcMetrics(metrics::Registry& registry, std::string service)
    : service_(std::move(service)),
      requests_(metrics::BuildCounter()
                    .Name("lip_rpc_requests_total")
                    .Help("RPCs handled, by service, method and gRPC status code")
                    .Register(registry)),
      latency_(metrics::BuildHistogram()
                   .Name("lip_rpc_latency_ms")
                   .Help("RPC handling time in milliseconds, by service and method")
                   .Register(registry)),
      in_flight_(metrics::BuildGauge()
                     .Name("lip_rpc_in_flight")
                     .Help("RPCs being handled now, by service and method")
                     .Register(registry)) {}

void RpcMetrics::Record(const std::string& method, grpc::StatusCode code, double latency_ms) {
  requests_.Add({{"service", service_}, {"method", method}, {"code", GrpcCodeName(code)}})
      .Increment();
  latency_.Add({{"service", service_}, {"method", method}}, metrics::DefaultLatencyBucketsMs())
      .Observe(latency_ms);
}

void RpcMetrics::AddInFlight(const std::string& method, double delta) {
  in_flight_.Add({{"service", service_}, {"method", method}}).Increment(delta);
}

RpcTimer::RpcTimer(RpcMetrics& metrics, std::string method)
    : metrics_(metrics), method_(std::move(method)), start_(absl::Now()) {
  metrics_.AddInFlight(method_, 1);
}

RpcTimer::~RpcTimer() {
  if (!finished_) metrics_.AddInFlight(method_, -1);
}

grpc::Status RpcTimer::Finish(grpc::Status status) {
  if (!finished_) {
    finished_ = true;
    metrics_.AddInFlight(method_, -1);
    metrics_.Record(method_, status.error_code(), absl::ToDoubleMilliseconds(absl::Now() - start_));
  }
  return status;
}

grpc::Status RpcTimer::Finish(const absl::Status& status, grpc::ServerContextBase* context) {
  return Finish(ToGrpcStatus(status, context));
}

MessageCounter::MessageCounter(metrics::Registry& registry, const std::string& name,
                               const std::string& help)
    : counter_(metrics::BuildCounter().Name(name).Help(help).Register(registry)) {}

void MessageCounter::Count(const char* rpc, const absl::Status& status) {
  counter_.Add({{"rpc", rpc}, {"code", GrpcCodeName(static_cast<grpc::StatusCode>(status.code()))}})
      .Increment();
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace lip
