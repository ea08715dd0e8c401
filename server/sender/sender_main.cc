// lip-sender: a sender node. Loads its model and the sender half of one
// bridge (from --bridge_dir, or fetched by name from the registry and
// verified), serves lip.v1.Sender over mutual TLS, resolves receivers through
// the registry, registers itself, heartbeats and reports link statistics.
//
//   lip-sender --model_dir demo/models/sender-llama --bridge_dir BRIDGE \
//       --listen 127.0.0.1:0 --registry 127.0.0.1:7000 \
//       --tls_cert certs/sender.crt --tls_key certs/sender.key --tls_ca certs/ca.crt
//
// --fanout_bridge_dirs / --fanout_bridges add bridges to other receiver models that share this
// bridge's sender half (lip-train --method=joint_receivers): SendFanOut encodes once and sends a
// packet to each (server/sender/fanout_bridges.h).
//
// Prints {"event":"listening","port":...,"metrics_port":...} on stdout once
// serving; SIGINT/SIGTERM stop accepting calls, let the accepted ones finish
// (up to --shutdown_grace_ms) and exit 0.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "common/node/logging.h"
#include "common/wire/packet_codec.h"
#include "server/graph_warmup.h"
#include "server/model_node.h"
#include "server/node_server.h"
#include "server/registry_presence.h"
#include "server/sender/sender_service.h"

ABSL_FLAG(std::string, wire_dtype, "fp16", "default wire dtype: fp32 | fp16 | bf16 | int8");
ABSL_FLAG(bool, compact_wire, false,
          "LIP 1.1 compact wire to receivers: a header the receiver holds is not sent again "
          "(docs/protocol.md §12)");
ABSL_FLAG(int32_t, max_batch_size, 8, "texts per sender pipeline call (encoding or relay generation)");
ABSL_FLAG(int32_t, max_batch_wait_ms, 5,
          "under concurrent load: how long the oldest text waits for a batch to fill (a lone text on an idle "
          "sender runs at once)");
ABSL_FLAG(int32_t, queue_limit, 64, "texts waiting for a batch (per kind of work) before RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, link_report_ms, 2000, "how often link statistics go to the registry");
ABSL_FLAG(int32_t, receiver_list_ttl_ms, 1000,
          "how long the registry's receiver list is reused (0 = ask the registry for every message)");
ABSL_FLAG(std::vector<std::string>, fanout_bridge_dirs, {},
          "comma-separated bridge directories to other receiver models sharing this bridge's sender half "
          "(SendFanOut)");
ABSL_FLAG(std::vector<std::string>, fanout_bridges, {},
          "comma-separated bridge names fetched from the registry, as --fanout_bridge_dirs");

namespace {
constexpr char kRole[] = "sender";

// The pipeline's bridge plus the fan-out bridges of the flags, each checked against it.
absl::StatusOr<std::shared_ptr<const lip::FanOutBridges>> LoadFanOutBridges(
    const lip::NodeConfig& config, const lip::ModelNodeFlags& flags, lip::RegistryClient* registry,
    const lip::BridgeMetadata& own) {
  std::vector<std::string> dirs = absl::GetFlag(FLAGS_fanout_bridge_dirs);
  for (const std::string& name : absl::GetFlag(FLAGS_fanout_bridges)) {
    lip::ModelNodeFlags fetch = flags;
    fetch.bridge_dir.clear();
    fetch.bridge_name = name;
    fetch.bridge_version = 0;
    auto dir = lip::LocalBridgeDir(kRole, config, fetch, registry, "sender.safetensors");
    if (!dir.ok()) return dir.status();
    dirs.push_back(*dir);
  }
  auto bridges = std::make_shared<lip::FanOutBridges>(own);
  for (const std::string& dir : dirs) {
    auto half = lip::LoadSenderHalf(dir);  // the file matches its digest
    if (!half.ok()) return half.status();
    absl::Status added = bridges->Add(half->metadata);
    if (!added.ok()) return added;
    lip::LogInfo(kRole, "fan-out bridge", {{"bridge", half->metadata.name},
                                            {"receiver_model", half->metadata.receiver_model.name}});
  }
  return std::shared_ptr<const lip::FanOutBridges>(std::move(bridges));
}
}  // namespace

int main(int argc, char** argv) {
  lip::BlockShutdownSignals();
  absl::SetProgramUsageMessage("LIP sender node");
  absl::ParseCommandLine(argc, argv);
  const lip::ModelNodeFlags flags = lip::ModelNodeFlagsFromCommandLine();
  auto config = lip::ModelNodeConfig(kRole);
  if (!config.ok()) return lip::FailStartup(kRole, "bad configuration", config.status());
  auto dtype = lip::ParseDTypeName(absl::GetFlag(FLAGS_wire_dtype));
  if (!dtype.ok()) return lip::FailStartup(kRole, "bad --wire_dtype", dtype.status());

  // One client resolves receivers and reports link stats; the other registers and heartbeats.
  auto registry = lip::ConnectRegistry(*config, absl::Seconds(10));
  if (!registry.ok()) return lip::FailStartup(kRole, "cannot reach the registry", registry.status());
  auto presence_client = lip::ConnectRegistry(*config, absl::Seconds(10));
  if (!presence_client.ok()) {
    return lip::FailStartup(kRole, "cannot reach the registry", presence_client.status());
  }
  auto pipeline = lip::LoadModelPipeline<lip::SenderPipeline, lip::SenderPipelineOptions>(
      kRole, *config, flags, registry->get(), "sender.safetensors");
  if (!pipeline.ok()) return lip::FailStartup(kRole, "cannot load the sender pipeline", pipeline.status());
  // No batch the node forms is larger than --max_batch_size, so no larger bucket is warmed up.
  lip::WarmUpModelGraphs(kRole, [&] {
    return lip::WarmUpSenderGraphs(**pipeline,
                                   std::min(flags.graph_warmup_max_batch, absl::GetFlag(FLAGS_max_batch_size)));
  });

  auto metrics = std::make_shared<lip::metrics::Registry>();
  lip::SenderServiceOptions service_options;
  service_options.node_id = config->node_id;
  service_options.insecure = config->tls.insecure;
  service_options.outbound_tls = config->tls;
  service_options.default_dtype = *dtype;
  service_options.receiver_list_ttl =
      absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_receiver_list_ttl_ms)));
  service_options.compact_wire = absl::GetFlag(FLAGS_compact_wire);
  service_options.batching.max_batch_size = std::max(1, absl::GetFlag(FLAGS_max_batch_size));
  service_options.batching.max_wait = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_max_batch_wait_ms)));
  service_options.batching.queue_limit = std::max(1, absl::GetFlag(FLAGS_queue_limit));
  auto fanout = LoadFanOutBridges(*config, flags, registry->get(), (*pipeline)->bridge());
  if (!fanout.ok()) return lip::FailStartup(kRole, "bad fan-out bridge", fanout.status());
  service_options.fanout = *fanout;
  lip::SenderService service(pipeline->get(), registry->get(), metrics.get(), service_options);

  lip::NodeServer server(*config, metrics);
  server.AddService(&service);
  absl::Status started = server.Start();
  if (!started.ok()) return lip::FailStartup(kRole, "cannot start", started);
  const std::string address = lip::AdvertisedAddress(*config, server);

  std::unique_ptr<lip::RegistryPresence> presence;
  std::thread reporter;
  std::mutex reporter_mu;
  std::condition_variable reporter_wake;
  bool stopping = false;
  if (*registry != nullptr) {
    presence = std::make_unique<lip::RegistryPresence>(
        *std::move(presence_client),
        lip::DescribeModelNode(*config, lip::v1::NODE_ROLE_SENDER, address, (*pipeline)->model_id(),
                               (*pipeline)->bridge()));
    absl::Status registered = presence->Start();
    if (!registered.ok()) {
      lip::LogWarning(kRole, "first registration failed; retrying in the background",
                      {{"error", registered.ToString()}});
    }
    const auto period = std::chrono::milliseconds(std::max(100, absl::GetFlag(FLAGS_link_report_ms)));
    reporter = std::thread([&, period] {  // period by value: its block ends before the thread does
      std::unique_lock<std::mutex> lock(reporter_mu);
      while (true) {
        const bool stop = reporter_wake.wait_for(lock, period, [&] { return stopping; });
        auto links = service.TakeLinkStats();
        if (!links.empty()) {
          absl::Status reported = (*registry)->ReportLinkStats(links);
          if (!reported.ok()) {
            lip::LogWarning(kRole, "link statistics not reported", {{"error", reported.ToString()}});
          }
        }
        if (stop) return;
      }
    });
  }
  lip::AnnounceListening(kRole, *config, server, address);

  const int signal_number = lip::WaitForShutdownSignal();
  lip::LogInfo(kRole, "shutting down", {{"signal", signal_number}});
  if (presence != nullptr) presence->Stop();  // leave the registry first: nobody new is sent here
  server.Shutdown(flags.shutdown_grace);
  if (reporter.joinable()) {
    {
      std::lock_guard<std::mutex> lock(reporter_mu);
      stopping = true;
    }
    reporter_wake.notify_all();
    reporter.join();  // reports what the drained requests added
  }
  lip::LogInfo(kRole, "stopped");
  return 0;
}
