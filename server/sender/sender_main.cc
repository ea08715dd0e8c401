// lip-sender: a sender node. Loads its model and the sender half of one
// bridge (from --bridge_dir, or fetched by name from the registry and
// verified), serves lip.v1.Sender over mutual TLS, resolves receivers through
// the registry, registers itself, heartbeats and reports link statistics.
//
//   lip-sender --model_dir demo/models/sender-llama --bridge_dir BRIDGE \
//       --listen 127.0.0.1:0 --registry 127.0.0.1:7000 \
//       --tls_cert certs/sender.crt --tls_key certs/sender.key --tls_ca certs/ca.crt
//
// Prints {"event":"listening","port":...,"metrics_port":...} on stdout once
// serving; SIGINT/SIGTERM drain in-flight requests and stop.
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/logging.h"
#include "common/node_config.h"
#include "common/packet_codec.h"
#include "nlohmann/json.hpp"
#include "server/node_server.h"
#include "server/registry_presence.h"
#include "server/sender/sender_service.h"

ABSL_FLAG(std::string, model_dir, "", "sender model directory (Hugging Face layout)");
ABSL_FLAG(std::string, bridge_dir, "", "bridge checkpoint directory (bridge.json + sender.safetensors)");
ABSL_FLAG(std::string, bridge, "", "bridge name to fetch from the registry when --bridge_dir is empty");
ABSL_FLAG(int32_t, bridge_version, 0, "bridge version to fetch (0 = newest)");
ABSL_FLAG(std::string, wire_dtype, "fp16", "default wire dtype: fp32 | fp16 | bf16 | int8");
ABSL_FLAG(int32_t, link_report_ms, 2000, "how often link statistics go to the registry");
ABSL_FLAG(int32_t, shutdown_grace_ms, 10000, "how long in-flight RPCs may run on shutdown");
ABSL_FLAG(bool, allow_model_mismatch, false, "accept a model whose weights digest differs from the bridge's");

namespace {

int Fail(const char* what, const absl::Status& status) {
  lip::LogError("sender", what, {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  lip::BlockShutdownSignals();
  absl::SetProgramUsageMessage("LIP sender node");
  absl::ParseCommandLine(argc, argv);
  auto config = lip::NodeConfigFromFlags();
  if (!config.ok()) return Fail("bad configuration", config.status());
  lip::SetMinLogLevel(config->log_level);
  if (config->node_id.empty()) config->node_id = absl::StrCat("sender-", getpid());
  auto dtype = lip::ParseDTypeName(absl::GetFlag(FLAGS_wire_dtype));
  if (!dtype.ok()) return Fail("bad --wire_dtype", dtype.status());

  std::unique_ptr<lip::RegistryClient> registry;       // for resolving receivers and link stats
  std::unique_ptr<lip::RegistryClient> presence_client;  // for registration and heartbeats
  if (!config->registry_address.empty()) {
    lip::ClientOptions options;
    options.address = config->registry_address;
    options.tls = config->tls;
    options.timeout = absl::Seconds(10);
    auto client = lip::RegistryClient::Connect(options);
    if (!client.ok()) return Fail("cannot reach the registry", client.status());
    registry = *std::move(client);
    presence_client = std::move(lip::RegistryClient::Connect(options).value());
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
                                           {"bridge.json", "sender.safetensors"}, bridge_dir);
    if (!record.ok()) return Fail("cannot fetch the bridge", record.status());
    lip::LogInfo("sender", "fetched bridge",
                 {{"name", name}, {"version", record->id().version()}, {"digest", record->id().digest()}});
  }

  lip::SenderPipelineOptions pipeline_options;
  pipeline_options.bridge_dir = bridge_dir;
  pipeline_options.model_dir = absl::GetFlag(FLAGS_model_dir);
  pipeline_options.allow_model_mismatch = absl::GetFlag(FLAGS_allow_model_mismatch);
  auto pipeline = lip::SenderPipeline::Load(pipeline_options);
  if (!pipeline.ok()) return Fail("cannot load the sender pipeline", pipeline.status());
  lip::LogInfo("sender", "pipeline loaded",
               {{"bridge", (*pipeline)->bridge().name}, {"model", (*pipeline)->model_id().name}});

  auto metrics = std::make_shared<lip::metrics::Registry>();
  lip::SenderServiceOptions service_options;
  service_options.node_id = config->node_id;
  service_options.insecure = config->tls.insecure;
  service_options.outbound_tls = config->tls;
  service_options.default_dtype = *dtype;
  lip::SenderService service(pipeline->get(), registry.get(), metrics.get(), service_options);

  lip::NodeServer server(*config, metrics);
  server.AddService(&service);
  absl::Status started = server.Start();
  if (!started.ok()) return Fail("cannot start", started);
  const std::string address =
      config->advertise_address.empty() ? server.address() : config->advertise_address;

  std::unique_ptr<lip::RegistryPresence> presence;
  std::thread reporter;
  std::mutex reporter_mu;
  std::condition_variable reporter_wake;
  bool stopping = false;
  if (registry != nullptr) {
    lip::v1::NodeInfo node;
    node.set_node_id(config->node_id);
    node.set_role(lip::v1::NODE_ROLE_SENDER);
    node.set_address(address);
    const lip::BridgeModelId& model = (*pipeline)->model_id();
    node.mutable_model()->set_family(model.family);
    node.mutable_model()->set_name(model.name);
    node.mutable_model()->set_weights_digest(model.weights_digest);
    auto* bridge = node.add_bridges();
    bridge->set_name((*pipeline)->bridge().name);
    bridge->set_version((*pipeline)->bridge().version);
    bridge->set_digest((*pipeline)->bridge().digest);
    presence = std::make_unique<lip::RegistryPresence>(std::move(presence_client), node);
    absl::Status registered = presence->Start();
    if (!registered.ok()) {
      lip::LogWarning("sender", "first registration failed; retrying in the background",
                      {{"error", registered.ToString()}});
    }
    const auto period = std::chrono::milliseconds(std::max(100, absl::GetFlag(FLAGS_link_report_ms)));
    reporter = std::thread([&] {
      std::unique_lock<std::mutex> lock(reporter_mu);
      while (true) {
        const bool stop = reporter_wake.wait_for(lock, period, [&] { return stopping; });
        auto links = service.TakeLinkStats();
        if (!links.empty()) {
          absl::Status reported = registry->ReportLinkStats(links);
          if (!reported.ok()) {
            lip::LogWarning("sender", "link statistics not reported", {{"error", reported.ToString()}});
          }
        }
        if (stop) return;
      }
    });
  }
  lip::LogInfo("sender", "serving",
               {{"node_id", config->node_id}, {"address", address}, {"metrics_port", server.metrics_port()}});
  std::printf("%s\n", nlohmann::json({{"event", "listening"}, {"node_id", config->node_id},
                                      {"port", server.port()}, {"metrics_port", server.metrics_port()}})
                          .dump().c_str());
  std::fflush(stdout);

  const int signal_number = lip::WaitForShutdownSignal();
  lip::LogInfo("sender", "shutting down", {{"signal", signal_number}});
  server.Shutdown(absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  if (reporter.joinable()) {
    {
      std::lock_guard<std::mutex> lock(reporter_mu);
      stopping = true;
    }
    reporter_wake.notify_all();
    reporter.join();  // reports what the drained requests added
  }
  if (presence != nullptr) presence->Stop();
  lip::LogInfo("sender", "stopped");
  return 0;
}
