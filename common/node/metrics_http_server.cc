#include "common/node/metrics_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lip {
namespace {

constexpr size_t kMaxRequestBytes = 8192;

// Writes all of `data`; false if the peer went away.
bool WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string Response(const char* status, const char* content_type, const std::string& body,
                     bool include_body) {
  std::string out = absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                                 "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  if (include_body) out += body;
  return out;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::shared_ptr<metrics::Registry> registry)
    : registry_(std::move(registry)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& address) {
  if (listen_fd_ >= 0) return absl::FailedPreconditionError("metrics server already started");
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\" has no valid port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  if (getaddrinfo(host.c_str(), port_text.c_str(), &hints, &resolved) != 0 || resolved == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": cannot resolve host \"", host, "\""));
  }
  const int fd = socket(resolved->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(resolved);
    return absl::UnavailableError(absl::StrCat("metrics server: socket(): ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound = bind(fd, resolved->ai_addr, resolved->ai_addrlen) == 0 && listen(fd, 64) == 0;
  const int bind_errno = errno;
  freeaddrinfo(resolved);
  if (!bound) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("metrics HTTP server cannot listen on \"", address,
                                               "\": ", std::strerror(bind_errno)));
  }
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  port_ = local.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  if (pipe2(wake_fds_, O_CLOEXEC) != 0) {
    close(fd);
    port_ = 0;
    return absl::UnavailableError(absl::StrCat("metrics server: pipe(): ", std::strerror(errno)));
  }
  listen_fd_ = fd;
  thread_ = std::thread([this] { ServeLoop(); });
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (listen_fd_ < 0) return;
  const char wake = 'x';
  (void)!write(wake_fds_[1], &wake, 1);
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fds_[0]);
  close(wake_fds_[1]);
  listen_fd_ = -1;
  wake_fds_[0] = wake_fds_[1] = -1;
}

void MetricsHttpServer::ServeLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;  // Stop()
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ServeOne(client);
    close(client);
  }
}

void MetricsHttpServer::ServeOne(int client_fd) {
  timeval timeout{2, 0};
  setsockopt(client_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(client_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const ssize_t n = recv(client_fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  const size_t line_end = request.find("\r\n");
  if (line_end == std::string::npos) {
    WriteAll(client_fd, Response("400 Bad Request", "text/plain", "incomplete request\n", true));
    return;
  }
  const std::string line = request.substr(0, line_end);  // "GET /metrics HTTP/1.1"
  const size_t space1 = line.find(' ');
  const size_t space2 = line.find(' ', space1 == std::string::npos ? space1 : space1 + 1);
  if (space1 == std::string::npos || space2 == std::string::npos) {
    WriteAll(client_fd, Response("400 Bad Request", "text/plain", "malformed request line\n", true));
    return;
  }
  const std::string method = line.substr(0, space1);
  std::string target = line.substr(space1 + 1, space2 - space1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    WriteAll(client_fd, Response("405 Method Not Allowed", "text/plain", "only GET and HEAD\n", true));
    return;
  }
  if (target != "/metrics") {
    WriteAll(client_fd, Response("404 Not Found", "text/plain", "try /metrics\n", method == "GET"));
    return;
  }
  const std::string body = metrics::TextSerializer().Serialize(registry_->Collect());
  WriteAll(client_fd, Response("200 OK", metrics::kTextContentType, body, method == "GET"));
}

}  // namespace lip
