#include "tests/server/node_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lip::testing {

absl::StatusOr<std::unique_ptr<NodeProcess>> NodeProcess::Start(
    const std::string& binary, const std::vector<std::string>& args, const std::string& log_path,
    int timeout_ms) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return absl::InternalError("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  auto process = std::unique_ptr<NodeProcess>(new NodeProcess());
  process->pid_ = pid;
  process->stdout_fd_ = pipe_fds[0];
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      return absl::DeadlineExceededError(absl::StrCat(binary, " did not report listening within ",
                                                      timeout_ms, " ms; see ", log_path));
    }
    pollfd pfd{process->stdout_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char c;
    const ssize_t n = read(process->stdout_fd_, &c, 1);
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat(binary, " exited before listening; see ", log_path));
    }
    if (c != '\n') {
      line += c;
      continue;
    }
    auto json = nlohmann::json::parse(line, nullptr, false);
    line.clear();
    if (!json.is_discarded() && json.value("event", "") == "listening") {
      process->listening_ = json;
      return process;
    }
  }
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill9();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

int NodeProcess::Terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill9();
  return -1;
}

void NodeProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  char* made = mkdtemp(pattern.data());
  return made != nullptr ? std::string(made) : std::string();
}

absl::Status MakeCerts(const std::string& dir, const std::vector<std::string>& nodes) {
  std::string command = absl::StrCat("bash deploy/certs/make_certs.sh '", dir, "'");
  for (const auto& node : nodes) absl::StrAppend(&command, " '", node, "'");
  absl::StrAppend(&command, " > /dev/null");
  const int rc = std::system(command.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("make_certs.sh failed with ", rc));
  return absl::OkStatus();
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("short write");
  }
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos || response.rfind("HTTP/1.1 200", 0) != 0) {
    return absl::InternalError(absl::StrCat("bad HTTP response: ", response.substr(0, 200)));
  }
  return response.substr(body + 4);
}

absl::StatusOr<std::vector<PrometheusSample>> ParsePrometheusText(const std::string& text) {
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))$)");
  static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  std::vector<PrometheusSample> samples;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    const std::string owned(line);
    if (owned[0] == '#') {
      if (!std::regex_match(owned, kComment)) {
        return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": bad comment: ", owned));
      }
      continue;
    }
    std::smatch match;
    if (!std::regex_match(owned, match, kSample)) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": bad sample: ", owned));
    }
    PrometheusSample sample;
    sample.name = match[1];
    std::string labels = match[3];
    size_t consumed = 0;
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), kLabel);
         it != std::sregex_iterator(); ++it) {
      if (static_cast<size_t>(it->position()) != consumed) break;
      sample.labels[(*it)[1]] = (*it)[2];
      consumed += it->length();
    }
    if (consumed != labels.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": bad labels: ", owned));
    }
    const std::string value = match[4];
    if (value == "+Inf" || value == "Inf") sample.value = INFINITY;
    else if (value == "-Inf") sample.value = -INFINITY;
    else if (value == "NaN") sample.value = NAN;
    else if (!absl::SimpleAtod(value, &sample.value)) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": bad value: ", owned));
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

double SumSamples(const std::vector<PrometheusSample>& samples, const std::string& name,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (const auto& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      match = match && it != sample.labels.end() && it->second == value;
    }
    if (match) sum += sample.value;
  }
  return sum;
}

}  // namespace lip::testing
