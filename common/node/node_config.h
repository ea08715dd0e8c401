// NodeConfig: the settings every LIP node (registry, sender, receiver) reads
// at startup, from a JSON file and/or command-line flags. Flags win over the
// file; the file wins over the defaults below.
//
// File format (every key optional; unknown top-level keys are kept in
// `sections` for the node, e.g. "receiver": {"max_batch_size": 8}):
//   {
//     "node_id": "receiver-1",
//     "listen": "127.0.0.1:7002",
//     "advertise_address": "127.0.0.1:7002",
//     "metrics_listen": "127.0.0.1:9102",
//     "registry": "127.0.0.1:7000",
//     "tls": {"cert": "certs/receiver.crt", "key": "certs/receiver.key",
//             "ca": "certs/ca.crt", "insecure": false, "server_name": "localhost",
//             "reload_ms": 5000},
//     "data_dir": "registry-data",
//     "log_level": "info",
//     "receiver": {...}, "sender": {...}
//   }
// Relative paths are taken as given (relative to the working directory).
//
// Flags (defined by this file, used by the node binaries only):
//   --config --node_id --listen --advertise_address --metrics_listen --registry
//   --tls_cert --tls_key --tls_ca --tls_server_name --tls_reload_ms --insecure --data_dir
//   --log_level
// A string flag overrides the file when it is non-empty; --insecure overrides when set;
// --tls_reload_ms when given (>= -1).
//
// Errors: NOT_FOUND for a missing config file, INVALID_ARGUMENT for bad JSON or
// a value of the wrong type (naming the key). Thread-safety: value type.
#ifndef LIP_COMMON_NODE_NODE_CONFIG_H_
#define LIP_COMMON_NODE_NODE_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/node/logging.h"
#include "common/node/tls_credentials.h"
#include "nlohmann/json.hpp"

namespace lip {

struct NodeConfig {
  std::string node_id;                       // default: "<role>-<pid>" chosen by the node
  std::string listen = "127.0.0.1:0";        // gRPC listen address; port 0 = any free port
  std::string advertise_address;             // what the registry hands out; "" = actual listen address
  std::string metrics_listen = "127.0.0.1:0";  // "" disables the /metrics HTTP server
  std::string registry_address;              // "" = no registry
  TlsOptions tls;                            // mutual TLS unless tls.insecure
  // How often a node checks its TLS files for a rotated certificate (it also checks on
  // SIGHUP): 0 = on SIGHUP only, -1 = never (credentials read once at start-up).
  int tls_reload_ms = 5000;
  std::string data_dir = "lip-registry-data";  // registry: SQLite + blobs
  LogLevel log_level = LogLevel::kInfo;
  nlohmann::json sections = nlohmann::json::object();  // node-specific blocks, by name
};

// Parses a JSON text into `config` on top of its current values.
absl::Status MergeNodeConfigJson(const std::string& json_text, NodeConfig& config);

// Reads the file at `path` into `config` on top of its current values.
absl::Status MergeNodeConfigFile(const std::string& path, NodeConfig& config);

// Defaults, then --config's file, then the other flags. Call after
// absl::ParseCommandLine.
absl::StatusOr<NodeConfig> NodeConfigFromFlags();

}  // namespace lip

#endif  // LIP_COMMON_NODE_NODE_CONFIG_H_
