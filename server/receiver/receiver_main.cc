// lip-receiver: a receiver node. Loads its model and the receiver half of one
// bridge (from --bridge_dir, or fetched by name from the registry and
// verified), serves lip.v1.LatentReceiver over mutual TLS with dynamic
// batching, registers itself with the registry and heartbeats.
//
//   lip-receiver --model_dir demo/models/receiver-qwen2 --bridge_dir BRIDGE \
//       --listen 127.0.0.1:0 --registry 127.0.0.1:7000 \
//       --tls_cert certs/receiver.crt --tls_key certs/receiver.key --tls_ca certs/ca.crt
//
// Prints {"event":"listening","port":...,"metrics_port":...} on stdout once
// serving; SIGINT/SIGTERM drain in-flight requests and stop.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/logging.h"
#include "common/node_config.h"
#include "nlohmann/json.hpp"
#include "server/node_server.h"
#include "server/receiver/latent_batcher.h"
#include "server/receiver/receiver_service.h"
#include "server/registry_presence.h"

ABSL_FLAG(std::string, model_dir, "", "receiver model directory (Hugging Face layout)");
ABSL_FLAG(std::string, bridge_dir, "", "bridge checkpoint directory (bridge.json + receiver.safetensors)");
ABSL_FLAG(std::string, bridge, "", "bridge name to fetch from the registry when --bridge_dir is empty");
ABSL_FLAG(int32_t, bridge_version, 0, "bridge version to fetch (0 = newest)");
ABSL_FLAG(int32_t, max_batch_size, 8, "messages per pipeline call");
ABSL_FLAG(int32_t, max_batch_wait_ms, 5, "how long the oldest message waits for a batch to fill");
ABSL_FLAG(int32_t, queue_limit, 64, "waiting messages before RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, shutdown_grace_ms, 10000, "how long in-flight RPCs may run on shutdown");
ABSL_FLAG(bool, allow_model_mismatch, false, "accept a model whose weights digest differs from the bridge's");

namespace {

int Fail(const char* what, const absl::Status& status) {
  lip::LogError("receiver", what, {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  lip::BlockShutdownSignals();
  absl::SetProgramUsageMessage("LIP receiver node");
  absl::ParseCommandLine(argc, argv);
  auto config = lip::NodeConfigFromFlags();
  if (!config.ok()) return Fail("bad configuration", config.status());
  lip::SetMinLogLevel(config->log_level);
  if (config->node_id.empty()) config->node_id = absl::StrCat("receiver-", getpid());

  std::unique_ptr<lip::RegistryClient> registry;
  if (!config->registry_address.empty()) {
    lip::ClientOptions options;
    options.address = config->registry_address;
    options.tls = config->tls;
    auto client = lip::RegistryClient::Connect(options);
    if (!client.ok()) return Fail("cannot reach the registry", client.status());
    registry = *std::move(client);
  }

  std::string bridge_dir = absl::GetFlag(FLAGS_bridge_dir);
  if (bridge_dir.empty()) {
    const std::string name = absl::GetFlag(FLAGS_bridge);
    if (name.empty() || registry == nullptr) {
      return Fail("no bridge", absl::InvalidArgumentError(
                                   "give --bridge_dir, or --bridge NAME with --registry"));
    }
    bridge_dir = absl::StrCat(config->data_dir, "/bridges/", config->node_id, "-", name);
    auto record = registry->DownloadBridge(name, absl::GetFlag(FLAGS_bridge_version),
                                           {"bridge.json", "receiver.safetensors"}, bridge_dir);
    if (!record.ok()) return Fail("cannot fetch the bridge", record.status());
    lip::LogInfo("receiver", "fetched bridge",
                 {{"name", name}, {"version", record->id().version()}, {"digest", record->id().digest()}});
  }

  lip::ReceiverPipelineOptions pipeline_options;
  pipeline_options.bridge_dir = bridge_dir;
  pipeline_options.model_dir = absl::GetFlag(FLAGS_model_dir);
  pipeline_options.allow_model_mismatch = absl::GetFlag(FLAGS_allow_model_mismatch);
  auto pipeline = lip::ReceiverPipeline::Load(pipeline_options);
  if (!pipeline.ok()) return Fail("cannot load the receiver pipeline", pipeline.status());
  lip::LogInfo("receiver", "pipeline loaded",
               {{"bridge", (*pipeline)->bridge().name}, {"model", (*pipeline)->model_id().name}});

  auto metrics = std::make_shared<lip::metrics::Registry>();
  lip::LatentBatcherOptions batcher_options;
  batcher_options.max_batch_size = std::max(1, absl::GetFlag(FLAGS_max_batch_size));
  batcher_options.max_wait = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_max_batch_wait_ms)));
  batcher_options.queue_limit = std::max(1, absl::GetFlag(FLAGS_queue_limit));
  auto batcher = std::make_unique<lip::LatentBatcher>(pipeline->get(), batcher_options, metrics.get());
  lip::ReceiverServiceOptions service_options;
  service_options.insecure = config->tls.insecure;
  lip::ReceiverService service(pipeline->get(), batcher.get(), metrics.get(), service_options);

  lip::NodeServer server(*config, metrics);
  server.AddService(&service);
  absl::Status started = server.Start();
  if (!started.ok()) return Fail("cannot start", started);
  const std::string address =
      config->advertise_address.empty() ? server.address() : config->advertise_address;

  std::unique_ptr<lip::RegistryPresence> presence;
  if (registry != nullptr) {
    lip::v1::NodeInfo node;
    node.set_node_id(config->node_id);
    node.set_role(lip::v1::NODE_ROLE_RECEIVER);
    node.set_address(address);
    const lip::BridgeModelId& model = (*pipeline)->model_id();
    node.mutable_model()->set_family(model.family);
    node.mutable_model()->set_name(model.name);
    node.mutable_model()->set_revision(model.revision);
    node.mutable_model()->set_weights_digest(model.weights_digest);
    auto* bridge = node.add_bridges();
    bridge->set_name((*pipeline)->bridge().name);
    bridge->set_version((*pipeline)->bridge().version);
    bridge->set_digest((*pipeline)->bridge().digest);
    presence = std::make_unique<lip::RegistryPresence>(std::move(registry), node);
    absl::Status registered = presence->Start();
    if (!registered.ok()) {
      lip::LogWarning("receiver", "first registration failed; retrying in the background",
                      {{"error", registered.ToString()}});
    }
  }
  lip::LogInfo("receiver", "serving",
               {{"node_id", config->node_id}, {"address", address}, {"metrics_port", server.metrics_port()}});
  std::printf("%s\n", nlohmann::json({{"event", "listening"}, {"node_id", config->node_id},
                                      {"port", server.port()}, {"metrics_port", server.metrics_port()}})
                          .dump().c_str());
  std::fflush(stdout);

  const int signal_number = lip::WaitForShutdownSignal();
  lip::LogInfo("receiver", "shutting down", {{"signal", signal_number}});
  if (presence != nullptr) presence->Stop();
  server.Shutdown(absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  batcher.reset();
  lip::LogInfo("receiver", "stopped");
  return 0;
}
