#include "server/model_node.h"

#include <ATen/Parallel.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/node/logging.h"
#include "common/node/peer_identity.h"
#include "common/node/tls_credentials.h"
#include "nlohmann/json.hpp"
#include "bridge/latent/bridge_proto.h"

ABSL_FLAG(std::string, model_dir, "", "model directory (Hugging Face layout)");
ABSL_FLAG(std::string, bridge_dir, "",
          "bridge checkpoint directory (bridge.json + this node's half); empty = fetch --bridge");
ABSL_FLAG(std::string, bridge, "", "bridge name to fetch from the registry when --bridge_dir is empty");
ABSL_FLAG(int32_t, bridge_version, 0, "bridge version to fetch (0 = newest)");
ABSL_FLAG(int32_t, shutdown_grace_ms, 10000, "how long in-flight RPCs may run on shutdown");
ABSL_FLAG(bool, allow_model_mismatch, false, "accept a model whose weights digest differs from the bridge's");
ABSL_FLAG(std::string, device, "cpu", "where the model runs: cpu (fp32), cuda or cuda:N (bf16 weights)");
ABSL_FLAG(std::string, activations, "fp32",
          "on CUDA: fp32 (activations in fp32, the parity mode) or model (activations in bf16, faster)");
ABSL_FLAG(int32_t, torch_threads, 0,
          "LibTorch intra-op threads of this node (0 = LibTorch's default, one per core); set 1 when "
          "several model nodes share a few CPU cores, or they oversubscribe them");
ABSL_FLAG(bool, cuda_graphs, true,
          "on CUDA: replay captured CUDA graphs for the forwards without a KV cache (encode, prefill before "
          "label scoring); false runs every forward eagerly");
ABSL_FLAG(bool, few_row_matmul, false,
          "on a CUDA GPU of compute capability 9.0+: the decoder block's projections of up to 64 rows as the "
          "weight-streaming kernel of bridge/model/few_row_matmul.h instead of cuBLAS (off by default until a "
          "GPU run has checked and timed it)");
ABSL_FLAG(int32_t, graph_warmup_max_batch, 64,
          "on CUDA with --cuda_graphs: before serving, run the node's paths on placeholder messages of every "
          "length a message of the bridge can have, for batches 1, 2, 4, ... up to this size, so their CUDA "
          "graphs are captured before the first message (server/graph_warmup.h; capped at the node's "
          "--max_batch_size); 0 = capture on first use");
ABSL_FLAG(bool, random_weights_for_benchmark, false,
          "BENCHMARK ONLY: random model weights from --model_dir/config.json and a random bridge half "
          "from bridge.json; answers are meaningless");

namespace lip {

ModelNodeFlags ModelNodeFlagsFromCommandLine() {
  ModelNodeFlags flags;
  flags.model_dir = absl::GetFlag(FLAGS_model_dir);
  flags.bridge_dir = absl::GetFlag(FLAGS_bridge_dir);
  flags.bridge_name = absl::GetFlag(FLAGS_bridge);
  flags.bridge_version = static_cast<uint32_t>(std::max(0, absl::GetFlag(FLAGS_bridge_version)));
  flags.shutdown_grace = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_shutdown_grace_ms)));
  flags.allow_model_mismatch = absl::GetFlag(FLAGS_allow_model_mismatch);
  flags.device = absl::GetFlag(FLAGS_device);
  flags.activations = absl::GetFlag(FLAGS_activations);
  flags.random_weights_for_benchmark = absl::GetFlag(FLAGS_random_weights_for_benchmark);
  flags.torch_threads = std::max(0, absl::GetFlag(FLAGS_torch_threads));
  flags.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  flags.few_row_matmul = absl::GetFlag(FLAGS_few_row_matmul);
  flags.graph_warmup_max_batch = std::max(0, absl::GetFlag(FLAGS_graph_warmup_max_batch));
  return flags;
}

void ApplyTorchThreads(const std::string& role, int threads) {
  if (threads > 0) at::set_num_threads(threads);
  LogInfo(role, "torch threads", {{"intra_op", std::to_string(at::get_num_threads())}});
}

absl::StatusOr<NodeConfig> ModelNodeConfig(const std::string& role) {
  auto config = NodeConfigFromFlags();
  if (!config.ok()) return config.status();
  SetMinLogLevel(config->log_level);
  std::set<std::string> named;  // node ids the certificate names (lip://node/<id>)
  if (!config->tls.insecure && !config->tls.cert_file.empty()) {
    auto pem = ReadFileToString(config->tls.cert_file);
    if (!pem.ok()) return pem.status();
    auto identity = PeerIdentityFromPem(*pem);
    if (!identity.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", config->tls.cert_file, "\": ", identity.status().message()));
    }
    named = identity->node_ids;
  }
  if (config->node_id.empty() && named.size() == 1) config->node_id = *named.begin();
  if (config->node_id.empty() && named.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate \"", config->tls.cert_file, "\" names several node ids (",
        absl::StrJoin(named, ", "), "); choose one with --node_id"));
  }
  if (config->node_id.empty()) config->node_id = absl::StrCat(role, "-", getpid());
  if (!named.empty() && named.count(config->node_id) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node id \"", config->node_id, "\" is not named by certificate \"", config->tls.cert_file,
        "\" (it names ", absl::StrJoin(named, ", "), "); the registry would refuse it"));
  }
  absl::Status reloading = StartTlsReloading(*config);
  if (!reloading.ok()) return reloading;
  return config;
}

absl::StatusOr<std::unique_ptr<RegistryClient>> ConnectRegistry(const NodeConfig& config,
                                                                 absl::Duration timeout) {
  if (config.registry_address.empty()) return std::unique_ptr<RegistryClient>();
  ClientOptions options;
  options.address = config.registry_address;
  options.tls = config.tls;
  options.timeout = timeout;
  // Through a registry outage: reconnect within 2 s of its return, and keep resolving
  // receivers from the last list it gave (docs/nodes.md, "Registry outage").
  options.max_reconnect_backoff = absl::Seconds(2);
  options.node_list_fallback = absl::Minutes(10);
  return RegistryClient::Connect(options);
}

absl::StatusOr<std::string> LocalBridgeDir(const std::string& role, const NodeConfig& config,
                                           const ModelNodeFlags& flags, RegistryClient* registry,
                                           const std::string& half_file) {
  if (!flags.bridge_dir.empty()) return flags.bridge_dir;
  if (flags.bridge_name.empty() || registry == nullptr) {
    return absl::InvalidArgumentError("give --bridge_dir, or --bridge NAME with --registry");
  }
  const std::string dir =
      absl::StrCat(config.data_dir, "/bridges/", config.node_id, "-", flags.bridge_name);
  auto record = registry->DownloadBridge(flags.bridge_name, flags.bridge_version,
                                         {"bridge.json", half_file}, dir);
  if (!record.ok()) return record.status();
  LogInfo(role, "fetched bridge",
          {{"name", flags.bridge_name}, {"version", record->id().version()},
           {"digest", record->id().digest()}});
  return dir;
}

lip::v1::NodeInfo DescribeModelNode(const NodeConfig& config, lip::v1::NodeRole role,
                                    const std::string& address, const BridgeModelId& model,
                                    const BridgeMetadata& bridge) {
  lip::v1::NodeInfo node;
  node.set_node_id(config.node_id);
  node.set_role(role);
  node.set_address(address);
  *node.mutable_model() = ModelIdToProto(model);
  *node.add_bridges() = BridgeIdToProto(bridge);
  return node;
}

std::string AdvertisedAddress(const NodeConfig& config, const NodeServer& server) {
  return config.advertise_address.empty() ? server.address() : config.advertise_address;
}

void AnnounceListening(const std::string& role, const NodeConfig& config, const NodeServer& server,
                       const std::string& address) {
  LogInfo(role, "serving",
          {{"node_id", config.node_id}, {"address", address}, {"metrics_port", server.metrics_port()}});
  std::printf("%s\n", nlohmann::json({{"event", "listening"}, {"node_id", config.node_id},
                                      {"port", server.port()}, {"metrics_port", server.metrics_port()}})
                          .dump().c_str());
  std::fflush(stdout);
}

int FailStartup(const std::string& role, const char* what, const absl::Status& status) {
  LogError(role, what, {{"error", status.ToString()}});
  return 1;
}

}  // namespace lip
