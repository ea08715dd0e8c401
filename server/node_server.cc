#include "server/node_server.h"


#include <signal.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/node/logging.h"
#include "common/wire/packet_limits.h"
#include "common/node/tls_credentials.h"
#include "common/node/tls_reloader.h"

namespace lip {

NodeServer::NodeServer(NodeConfig config, std::shared_ptr<metrics::Registry> metrics_registry)
    : config_(std::move(config)), metrics_registry_(std::move(metrics_registry)) {}

NodeServer::~NodeServer() { Shutdown(absl::ZeroDuration()); }

void NodeServer::AddService(grpc::Service* service) { services_.push_back(service); }

absl::Status NodeServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("node server already started");
  auto credentials = MakeServerCredentials(config_.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, *credentials, &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  for (grpc::Service* service : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on \"", config_.listen, "\""));
  }
  if (!config_.metrics_listen.empty()) {
    metrics_ = std::make_unique<MetricsHttpServer>(metrics_registry_);
    absl::Status started = metrics_->Start(config_.metrics_listen);
    if (!started.ok()) {
      // Serving without /metrics beats not serving (e.g. the metrics port is taken); the
      // warning says why.
      LogWarning("node", "serving WITHOUT /metrics", {{"error", started.ToString()}});
      metrics_.reset();
    }
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  return absl::OkStatus();
}

std::string NodeServer::address() const {
  return absl::StrCat(HostOfAddress(config_.listen), ":", port_);
}

void NodeServer::Shutdown(absl::Duration grace) {
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
    server_->Wait();
    server_.reset();
  }
  if (metrics_ != nullptr) {
    metrics_->Stop();
    metrics_.reset();
  }
}

absl::Status StartTlsReloading(NodeConfig& config) {
  if (config.tls.insecure || config.tls_reload_ms < 0 || config.tls.reloader != nullptr) {
    return absl::OkStatus();
  }
  auto reloader = TlsReloader::Start(config.tls, absl::Milliseconds(config.tls_reload_ms));
  if (!reloader.ok()) return reloader.status();
  config.tls.reloader = *std::move(reloader);
  LogInfo("node", "watching TLS files for rotation",
          {{"cert", config.tls.cert_file}, {"check_ms", config.tls_reload_ms}});
  return absl::OkStatus();
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  // From now on the node drains (bounded by its grace period): further SIGINT/SIGTERM are
  // ignored. Without this a second signal would kill the process mid-drain, because threads
  // started before main() (OpenBLAS's pool) do not block the signals and would take it.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, nullptr);
  sigaction(SIGTERM, &ignore, nullptr);
  return signal_number;
}

std::string HostOfAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return host;
}

}  // namespace lip
