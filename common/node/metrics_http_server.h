// MetricsHttpServer serves GET /metrics (Prometheus text exposition of one
// metrics::Registry) over plain HTTP/1.1. Every LIP node runs one beside its
// gRPC port; the address is "host:port" and port 0 asks the OS for a free port
// (read it back with port()).
//
// Why not prometheus-cpp's own exposer (prometheus::Exposer, libprometheus-cpp-
// pull): it serves through civetweb, which creates its threads with a fixed
// 100 KiB stack (Debian builds it with USE_STACK_SIZE=102400). glibc carves a
// thread's static TLS out of its stack, and the sender and receiver load
// LibTorch, whose libraries' TLS segments alone come to more than that
// (libopenblas 60 KiB, libglog 30 KiB, libtorch_cpu 10 KiB, ...), so civetweb's
// pthread_create fails and the Exposer constructor throws "null context when
// constructing CivetServer". Re-checked on Debian 12 with prometheus-cpp 1.0.1
// and LibTorch 1.13 (issue 17): the same Exposer program serves /metrics when it
// does not link LibTorch and throws when it does. So the metrics themselves
// are prometheus-cpp's (common/node/metrics.h: registry and text serializer) and
// only the exposition is this server: a single accept thread with an ordinary
// std::thread stack; scrapes are tiny and rare, so serving them one at a time
// is enough.
//
// Ownership: holds a shared_ptr to the registry. Errors: Start() returns
// INVALID_ARGUMENT for an unparsable address and UNAVAILABLE when it cannot be
// bound. Thread-safety: Start/Stop from one thread; requests are served on the
// server's own thread. A client that sends no complete request within 2 s is
// dropped, so one stuck client delays other scrapes by at most that.
#ifndef LIP_COMMON_NODE_METRICS_HTTP_SERVER_H_
#define LIP_COMMON_NODE_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/node/metrics.h"

namespace lip {

class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(std::shared_ptr<metrics::Registry> registry);
  ~MetricsHttpServer();  // Stop()s.
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds `address` ("127.0.0.1:9100", "0.0.0.0:0", "[::1]:0" or ":0", which
  // means 127.0.0.1) and starts serving.
  absl::Status Start(const std::string& address);
  // The bound port; 0 before Start().
  int port() const { return port_; }
  // Stops serving; waits for the request in progress. Idempotent.
  void Stop();

 private:
  void ServeLoop();
  void ServeOne(int client_fd);

  std::shared_ptr<metrics::Registry> registry_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: Stop() writes to wake the accept loop
  std::thread thread_;
  int port_ = 0;
};

}  // namespace lip

#endif  // LIP_COMMON_NODE_METRICS_HTTP_SERVER_H_
