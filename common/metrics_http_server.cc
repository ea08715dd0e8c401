#include "common/metrics_http_server.h"

#include <civetweb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lip {
namespace {

// A free TCP port on 127.0.0.1 chosen by the OS (civetweb cannot always bind port 0 itself).
int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::shared_ptr<metrics::Registry> registry)
    : registry_(std::move(registry)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& address) {
  if (context_ != nullptr) return absl::FailedPreconditionError("metrics server already started");
  std::string listen = address;
  if (!listen.empty() && listen[0] == ':') listen = "127.0.0.1" + listen;
  const bool any_port = listen.size() >= 2 && listen.compare(listen.size() - 2, 2, ":0") == 0;
  for (int attempt = 0; any_port && attempt < 5 && context_ == nullptr; ++attempt) {
    const int port = PickFreePort();
    if (port == 0) continue;
    const std::string chosen = listen.substr(0, listen.size() - 1) + std::to_string(port);
    const char* options[] = {"listening_ports", chosen.c_str(), "num_threads", "2", nullptr};
    mg_callbacks callbacks;
    std::memset(&callbacks, 0, sizeof(callbacks));
    context_ = mg_start(&callbacks, this, options);
  }
  if (any_port && context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("metrics HTTP server cannot listen on any free port of \"", address, "\""));
  }
  if (context_ != nullptr) {
    mg_set_request_handler(context_, "/metrics", &MetricsHttpServer::HandleMetrics, this);
    mg_server_port ports[4];
    port_ = mg_get_server_ports(context_, 4, ports) > 0 ? ports[0].port : 0;
    return absl::OkStatus();
  }
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "2", nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  context_ = mg_start(&callbacks, this, options);
  if (context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("metrics HTTP server cannot listen on \"", address, "\""));
  }
  mg_set_request_handler(context_, "/metrics", &MetricsHttpServer::HandleMetrics, this);
  mg_server_port ports[4];
  const int count = mg_get_server_ports(context_, 4, ports);
  port_ = count > 0 ? ports[0].port : 0;
  if (port_ == 0) {
    Stop();
    return absl::UnavailableError(
        absl::StrCat("metrics HTTP server on \"", address, "\" reports no bound port"));
  }
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (context_ != nullptr) {
    mg_stop(context_);
    context_ = nullptr;
  }
}

int MetricsHttpServer::HandleMetrics(::mg_connection* conn, void* self) {
  auto* server = static_cast<MetricsHttpServer*>(self);
  const std::string body = metrics::TextSerializer().Serialize(server->registry_->Collect());
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            metrics::kTextContentType, body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

}  // namespace lip
