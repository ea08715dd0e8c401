// lip-registry: the registry node. Stores bridge checkpoints (SQLite + blob
// directory under --data_dir), keeps the node directory and link statistics.
//
//   lip-registry --listen 127.0.0.1:7000 --data_dir reg \
//       --tls_cert certs/registry.crt --tls_key certs/registry.key --tls_ca certs/ca.crt
//
// Prints one JSON line {"event":"listening","port":...,"metrics_port":...} on
// stdout once serving (scripts and tests read the ports from it), stops
// gracefully on SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/node/logging.h"
#include "common/node/node_config.h"
#include "nlohmann/json.hpp"
#include "server/node_server.h"
#include "server/registry/bridge_store.h"
#include "server/registry/node_directory.h"
#include "server/registry/registry_service.h"

ABSL_FLAG(int32_t, heartbeat_interval_ms, 1000, "heartbeat interval told to nodes");
ABSL_FLAG(int32_t, liveness_timeout_ms, 3000, "a node without a heartbeat for this long is dead");
ABSL_FLAG(int32_t, shutdown_grace_ms, 10000, "how long in-flight RPCs may run on shutdown");

int main(int argc, char** argv) {
  lip::BlockShutdownSignals();
  // A write past the process's file size limit (RLIMIT_FSIZE) then fails with EFBIG, which the
  // store reports as RESOURCE_EXHAUSTED like a full disk, instead of killing the registry.
  std::signal(SIGXFSZ, SIG_IGN);
  absl::SetProgramUsageMessage("LIP registry node: bridge checkpoints, node directory, link stats");
  absl::ParseCommandLine(argc, argv);
  auto config = lip::NodeConfigFromFlags();
  if (!config.ok()) {
    lip::LogError("registry", "bad configuration", {{"error", config.status().ToString()}});
    return 2;
  }
  lip::SetMinLogLevel(config->log_level);
  if (config->node_id.empty()) config->node_id = "registry-" + std::to_string(getpid());
  absl::Status reloading = lip::StartTlsReloading(*config);
  if (!reloading.ok()) {
    lip::LogError("registry", "bad TLS material", {{"error", reloading.ToString()}});
    return 1;
  }

  lip::BridgeStoreOptions store_options;
  store_options.data_dir = config->data_dir;
  auto store = lip::BridgeStore::Open(store_options);
  if (!store.ok()) {
    lip::LogError("registry", "cannot open the store", {{"error", store.status().ToString()}});
    return 1;
  }
  lip::LogInfo("registry", "store opened",
               {{"data_dir", config->data_dir},
                {"removed_temp_uploads", (*store)->removed_temp_uploads()},
                {"removed_orphan_blobs", (*store)->removed_orphan_blobs()}});

  lip::NodeDirectoryOptions directory_options;
  directory_options.heartbeat_interval = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_interval_ms));
  directory_options.liveness_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_liveness_timeout_ms));
  lip::NodeDirectory directory(directory_options);

  auto metrics = std::make_shared<lip::metrics::Registry>();
  lip::RegistryServiceOptions service_options;
  service_options.insecure = config->tls.insecure;
  lip::RegistryService service(store->get(), &directory, metrics.get(), service_options);

  lip::NodeServer server(*config, metrics);
  server.AddService(&service);
  absl::Status started = server.Start();
  if (!started.ok()) {
    lip::LogError("registry", "cannot start", {{"error", started.ToString()}});
    return 1;
  }
  if (config->tls.insecure) {
    lip::LogWarning("registry", "running WITHOUT TLS (--insecure): every caller has every role");
  }
  lip::LogInfo("registry", "serving",
               {{"node_id", config->node_id}, {"address", server.address()},
                {"metrics_port", server.metrics_port()}});
  std::printf("%s\n", nlohmann::json({{"event", "listening"},
                                      {"node_id", config->node_id},
                                      {"port", server.port()},
                                      {"metrics_port", server.metrics_port()}})
                          .dump()
                          .c_str());
  std::fflush(stdout);

  const int signal_number = lip::WaitForShutdownSignal();
  lip::LogInfo("registry", "shutting down", {{"signal", signal_number}});
  server.Shutdown(absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  lip::LogInfo("registry", "stopped");
  return 0;
}
