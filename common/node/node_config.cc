#include "common/node/node_config.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

ABSL_FLAG(std::string, config, "", "JSON config file (flags override its values)");
ABSL_FLAG(std::string, node_id, "", "this node's id (default: <role>-<pid>)");
ABSL_FLAG(std::string, listen, "", "gRPC listen address host:port (port 0 = any free port)");
ABSL_FLAG(std::string, advertise_address, "", "address other nodes should use to reach this one");
ABSL_FLAG(std::string, metrics_listen, "", "HTTP /metrics listen address host:port; 'off' disables");
ABSL_FLAG(std::string, registry, "", "registry address host:port");
ABSL_FLAG(std::string, tls_cert, "", "this node's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "this node's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate that signs every LIP node (PEM)");
ABSL_FLAG(std::string, tls_server_name, "", "name to verify in peers' server certificates");
ABSL_FLAG(int32_t, tls_reload_ms, -2,
          "check the TLS files for a new certificate every N ms (and on SIGHUP); "
          "0 = on SIGHUP only, -1 = never (default: the config file's, else 5000)");
ABSL_FLAG(bool, insecure, false, "plaintext without authentication (local development only)");
ABSL_FLAG(std::string, data_dir, "", "registry data directory (SQLite + blobs)");
ABSL_FLAG(std::string, log_level, "", "debug | info | warning | error");

namespace lip {
namespace {

template <typename T>
absl::Status Get(const nlohmann::json& object, const char* key, const std::string& where, T& out) {
  if (!object.contains(key)) return absl::OkStatus();
  const nlohmann::json& value = object.at(key);
  try {
    out = value.get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("config key \"", where, key, "\" has value ",
                                                   value.dump(), " of the wrong type"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MergeNodeConfigJson(const std::string& json_text, NodeConfig& config) {
  nlohmann::json root = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("config is not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError("config must be a JSON object");
  LIP_RETURN_IF_ERROR(Get(root, "node_id", "", config.node_id));
  LIP_RETURN_IF_ERROR(Get(root, "listen", "", config.listen));
  LIP_RETURN_IF_ERROR(Get(root, "advertise_address", "", config.advertise_address));
  LIP_RETURN_IF_ERROR(Get(root, "metrics_listen", "", config.metrics_listen));
  LIP_RETURN_IF_ERROR(Get(root, "registry", "", config.registry_address));
  LIP_RETURN_IF_ERROR(Get(root, "data_dir", "", config.data_dir));
  std::string level;
  LIP_RETURN_IF_ERROR(Get(root, "log_level", "", level));
  if (!level.empty()) {
    auto parsed = ParseLogLevel(level);
    if (!parsed.ok()) return parsed.status();
    config.log_level = *parsed;
  }
  if (root.contains("tls")) {
    const nlohmann::json& tls = root.at("tls");
    if (!tls.is_object()) return absl::InvalidArgumentError("config key \"tls\" must be an object");
    LIP_RETURN_IF_ERROR(Get(tls, "cert", "tls.", config.tls.cert_file));
    LIP_RETURN_IF_ERROR(Get(tls, "key", "tls.", config.tls.key_file));
    LIP_RETURN_IF_ERROR(Get(tls, "ca", "tls.", config.tls.ca_file));
    LIP_RETURN_IF_ERROR(Get(tls, "insecure", "tls.", config.tls.insecure));
    LIP_RETURN_IF_ERROR(Get(tls, "server_name", "tls.", config.tls.server_name_override));
    LIP_RETURN_IF_ERROR(Get(tls, "reload_ms", "tls.", config.tls_reload_ms));
  }
  static const char* kKnown[] = {"node_id", "listen", "advertise_address", "metrics_listen",
                                 "registry", "data_dir", "log_level", "tls"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    bool known = false;
    for (const char* key : kKnown) known = known || it.key() == key;
    if (!known) config.sections[it.key()] = it.value();
  }
  return absl::OkStatus();
}

absl::Status MergeNodeConfigFile(const std::string& path, NodeConfig& config) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::Status status = MergeNodeConfigJson(*text, config);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("config file \"", path, "\": ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeConfig> NodeConfigFromFlags() {
  NodeConfig config;
  const std::string path = absl::GetFlag(FLAGS_config);
  if (!path.empty()) LIP_RETURN_IF_ERROR(MergeNodeConfigFile(path, config));
  auto override_string = [](const absl::Flag<std::string>& flag, std::string& target) {
    std::string value = absl::GetFlag(flag);
    if (!value.empty()) target = value;
  };
  override_string(FLAGS_node_id, config.node_id);
  override_string(FLAGS_listen, config.listen);
  override_string(FLAGS_advertise_address, config.advertise_address);
  override_string(FLAGS_metrics_listen, config.metrics_listen);
  if (config.metrics_listen == "off") config.metrics_listen.clear();
  override_string(FLAGS_registry, config.registry_address);
  override_string(FLAGS_tls_cert, config.tls.cert_file);
  override_string(FLAGS_tls_key, config.tls.key_file);
  override_string(FLAGS_tls_ca, config.tls.ca_file);
  override_string(FLAGS_tls_server_name, config.tls.server_name_override);
  if (absl::GetFlag(FLAGS_insecure)) config.tls.insecure = true;
  if (absl::GetFlag(FLAGS_tls_reload_ms) >= -1) config.tls_reload_ms = absl::GetFlag(FLAGS_tls_reload_ms);
  override_string(FLAGS_data_dir, config.data_dir);
  const std::string level = absl::GetFlag(FLAGS_log_level);
  if (!level.empty()) {
    auto parsed = ParseLogLevel(level);
    if (!parsed.ok()) return parsed.status();
    config.log_level = *parsed;
  }
  return config;
}

}  // namespace lip
