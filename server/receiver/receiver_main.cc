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
// serving; SIGINT/SIGTERM stop accepting calls, let the accepted ones finish
// (up to --shutdown_grace_ms) and exit 0.
#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/node/logging.h"
#include "server/graph_warmup.h"
#include "server/model_node.h"
#include "server/node_server.h"
#include "server/receiver/latent_batcher.h"
#include "server/receiver/receiver_service.h"
#include "server/registry_presence.h"

ABSL_FLAG(int32_t, max_batch_size, 8, "messages per pipeline call");
ABSL_FLAG(int32_t, max_batch_wait_ms, 5, "how long the oldest message waits for a batch to fill");
ABSL_FLAG(int32_t, queue_limit, 64, "waiting messages before RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, stream_window, 8, "messages of one StreamLatents stream in the receiver at once");
ABSL_FLAG(int32_t, header_cache_headers, 64,
          "LIP 1.1 compact wire: packet headers kept per caller (least recently used go first)");
ABSL_FLAG(int64_t, header_cache_caller_bytes, 1 << 20, "LIP 1.1 compact wire: header bytes kept per caller");
ABSL_FLAG(int64_t, header_cache_total_bytes, int64_t{64} << 20,
          "LIP 1.1 compact wire: header bytes kept over all callers");

namespace {
constexpr char kRole[] = "receiver";
}  // namespace

int main(int argc, char** argv) {
  lip::BlockShutdownSignals();
  absl::SetProgramUsageMessage("LIP receiver node");
  absl::ParseCommandLine(argc, argv);
  const lip::ModelNodeFlags flags = lip::ModelNodeFlagsFromCommandLine();
  auto config = lip::ModelNodeConfig(kRole);
  if (!config.ok()) return lip::FailStartup(kRole, "bad configuration", config.status());

  auto registry = lip::ConnectRegistry(*config, absl::Seconds(60));
  if (!registry.ok()) return lip::FailStartup(kRole, "cannot reach the registry", registry.status());
  auto pipeline = lip::LoadModelPipeline<lip::ReceiverPipeline, lip::ReceiverPipelineOptions>(
      kRole, *config, flags, registry->get(), "receiver.safetensors");
  if (!pipeline.ok()) return lip::FailStartup(kRole, "cannot load the receiver pipeline", pipeline.status());

  lip::WarmUpModelGraphs(kRole, [&] {
    return lip::WarmUpReceiverGraphs(**pipeline,
                                     std::min(flags.graph_warmup_max_batch, absl::GetFlag(FLAGS_max_batch_size)));
  });

  auto metrics = std::make_shared<lip::metrics::Registry>();
  lip::LatentBatcherOptions batcher_options;
  batcher_options.max_batch_size = std::max(1, absl::GetFlag(FLAGS_max_batch_size));
  batcher_options.max_wait = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_max_batch_wait_ms)));
  batcher_options.queue_limit = std::max(1, absl::GetFlag(FLAGS_queue_limit));
  auto batcher = std::make_unique<lip::LatentBatcher>(pipeline->get(), batcher_options, metrics.get());
  lip::ReceiverServiceOptions service_options;
  service_options.insecure = config->tls.insecure;
  service_options.stream_window = std::max(1, absl::GetFlag(FLAGS_stream_window));
  service_options.header_cache.max_headers_per_caller =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_header_cache_headers)));
  service_options.header_cache.max_bytes_per_caller =
      static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_header_cache_caller_bytes)));
  service_options.header_cache.max_total_bytes =
      static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_header_cache_total_bytes)));
  lip::ReceiverService service(pipeline->get(), batcher.get(), metrics.get(), service_options);

  lip::NodeServer server(*config, metrics);
  server.AddService(&service);
  absl::Status started = server.Start();
  if (!started.ok()) return lip::FailStartup(kRole, "cannot start", started);
  const std::string address = lip::AdvertisedAddress(*config, server);

  std::unique_ptr<lip::RegistryPresence> presence;
  if (*registry != nullptr) {
    presence = std::make_unique<lip::RegistryPresence>(
        *std::move(registry),
        lip::DescribeModelNode(*config, lip::v1::NODE_ROLE_RECEIVER, address, (*pipeline)->model_id(),
                               (*pipeline)->bridge()));
    absl::Status registered = presence->Start();
    if (!registered.ok()) {
      lip::LogWarning(kRole, "first registration failed; retrying in the background",
                      {{"error", registered.ToString()}});
    }
  }
  lip::AnnounceListening(kRole, *config, server, address);

  const int signal_number = lip::WaitForShutdownSignal();
  lip::LogInfo(kRole, "shutting down", {{"signal", signal_number}});
  if (presence != nullptr) presence->Stop();
  server.Shutdown(flags.shutdown_grace);  // accepted calls finish: the batcher still runs
  batcher.reset();
  lip::LogInfo(kRole, "stopped");
  return 0;
}
