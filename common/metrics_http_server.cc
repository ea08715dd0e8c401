#include "common/metrics_http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lip {

MetricsHttpServer::MetricsHttpServer(std::shared_ptr<metrics::Registry> registry)
    : registry_(std::move(registry)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& address) {
  if (context_ != nullptr) return absl::FailedPreconditionError("metrics server already started");
  std::string listen = address;
  if (!listen.empty() && listen[0] == ':') listen = "127.0.0.1" + listen;
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
