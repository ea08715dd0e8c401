// MetricsHttpServer serves GET /metrics (Prometheus text exposition of one
// metrics::Registry) over plain HTTP using civetweb. Every LIP node runs one
// beside its gRPC port; the address is "host:port" and port 0 asks the OS for
// a free port (read it back with port()).
//
// Ownership: holds a shared_ptr to the registry. Errors: Start() returns
// UNAVAILABLE when the address cannot be bound. Thread-safety: Start/Stop from
// one thread; requests are served on civetweb's threads.
#ifndef LIP_COMMON_METRICS_HTTP_SERVER_H_
#define LIP_COMMON_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/metrics.h"

struct mg_context;
struct mg_connection;

namespace lip {

class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(std::shared_ptr<metrics::Registry> registry);
  ~MetricsHttpServer();  // Stop()s.
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds `address` ("127.0.0.1:9100", "0.0.0.0:0", or ":0") and starts serving.
  absl::Status Start(const std::string& address);
  // The bound port; 0 before Start().
  int port() const { return port_; }
  // Stops serving; waits for in-flight requests. Idempotent.
  void Stop();

 private:
  static int HandleMetrics(::mg_connection* conn, void* self);

  std::shared_ptr<metrics::Registry> registry_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace lip

#endif  // LIP_COMMON_METRICS_HTTP_SERVER_H_
