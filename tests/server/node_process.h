// Test helpers for real node processes: spawn a node binary as a child,
// wait for its {"event":"listening",...} line, kill it (SIGTERM or SIGKILL);
// make a fresh certificate directory with deploy/certs/make_certs.sh; fetch
// /metrics over plain HTTP; parse Prometheus text strictly.
#ifndef LIP_TESTS_SERVER_NODE_PROCESS_H_
#define LIP_TESTS_SERVER_NODE_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lip::testing {

class NodeProcess {
 public:
  // Starts `binary` with `args`; stdout is read for the listening line, stderr
  // (the JSON logs) goes to `log_path`.
  static absl::StatusOr<std::unique_ptr<NodeProcess>> Start(const std::string& binary,
                                                            const std::vector<std::string>& args,
                                                            const std::string& log_path,
                                                            int timeout_ms = 30000);
  ~NodeProcess();  // SIGKILL if still running.

  const nlohmann::json& listening() const { return listening_; }
  int port() const { return listening_.value("port", 0); }
  int metrics_port() const { return listening_.value("metrics_port", 0); }
  pid_t pid() const { return pid_; }
  // SIGTERM and wait (bounded); returns the exit status (-1 on timeout, then SIGKILL).
  int Terminate(int timeout_ms = 15000);
  void Kill9();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  nlohmann::json listening_;
};

// A fresh temporary directory under /tmp.
std::string MakeTempDir(const std::string& prefix);
// Runs make_certs.sh into `dir` with the given nodes ("admin", "nobody:none", ...).
absl::Status MakeCerts(const std::string& dir, const std::vector<std::string>& nodes);
// GET http://127.0.0.1:<port><path>; returns the body (status must be 200).
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// Prometheus text exposition, parsed: sample name + sorted labels -> value.
struct PrometheusSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
// Strict parse: every line is a # HELP / # TYPE comment or a valid sample;
// INVALID_ARGUMENT naming the first bad line otherwise.
absl::StatusOr<std::vector<PrometheusSample>> ParsePrometheusText(const std::string& text);
// Sum of samples named `name` whose labels include all of `labels`.
double SumSamples(const std::vector<PrometheusSample>& samples, const std::string& name,
                  const std::map<std::string, std::string>& labels = {});

}  // namespace lip::testing

#endif  // LIP_TESTS_SERVER_NODE_PROCESS_H_
