// NodeServer: what every LIP node does around its own service — listen with
// mutual TLS (or --insecure), gRPC health checking and server reflection
// (so grpcurl works), the /metrics HTTP endpoint, and graceful shutdown on
// SIGINT/SIGTERM that lets in-flight RPCs finish.
//
// Typical main():
//   lip::BlockShutdownSignals();              // first, before any thread starts
//   ... parse flags, NodeConfigFromFlags(), build the library object and service ...
//   lip::NodeServer server(config, metrics_registry);
//   server.AddService(&service);
//   if (auto s = server.Start(); !s.ok()) { LogError(...); return 1; }
//   lip::WaitForShutdownSignal();
//   server.Shutdown(absl::Seconds(10));
//
// Ownership: services are not owned and must outlive the server. Errors:
// Start() returns INVALID_ARGUMENT/NOT_FOUND for bad TLS files, UNAVAILABLE when
// an address cannot be bound. Thread-safety: call from one thread.
#ifndef LIP_SERVER_NODE_SERVER_H_
#define LIP_SERVER_NODE_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/node/metrics.h"
#include "common/node/metrics_http_server.h"
#include "common/node/node_config.h"

namespace lip {

class NodeServer {
 public:
  NodeServer(NodeConfig config, std::shared_ptr<metrics::Registry> metrics_registry);
  ~NodeServer();  // Shutdown(0) if still running.

  void AddService(grpc::Service* service);
  absl::Status Start();
  // Bound gRPC port / "127.0.0.1:<port>"-style address (host from config.listen).
  int port() const { return port_; }
  std::string address() const;
  // Port of /metrics, 0 when disabled.
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // Stops accepting RPCs, waits up to `grace` for in-flight ones, then cancels
  // the rest. Idempotent.
  void Shutdown(absl::Duration grace);
  grpc::Server* grpc_server() { return server_.get(); }

 private:
  NodeConfig config_;
  std::shared_ptr<metrics::Registry> metrics_registry_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  int port_ = 0;
};

// Unless the node runs --insecure or with tls_reload_ms = -1: starts a TlsReloader
// (common/node/tls_reloader.h) on config.tls's files and sets config.tls.reloader, so that
// the server and every client made from config.tls afterwards take a rotated
// certificate without a restart (on file change, checked every tls_reload_ms, or
// SIGHUP). Call before anything uses config.tls. Errors as LoadTlsMaterial.
absl::Status StartTlsReloading(NodeConfig& config);

// Blocks SIGINT and SIGTERM in the calling thread and all threads it starts
// later, so WaitForShutdownSignal() can receive them synchronously.
void BlockShutdownSignals();
// Waits for SIGINT or SIGTERM; returns the signal number. Later SIGINT/SIGTERM are
// ignored, so a repeated signal cannot cut a drain short (SIGKILL still stops at once).
int WaitForShutdownSignal();
// "127.0.0.1" from "127.0.0.1:0", "[::1]" from "[::1]:7000".
std::string HostOfAddress(const std::string& address);

}  // namespace lip

#endif  // LIP_SERVER_NODE_SERVER_H_
