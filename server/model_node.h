// What the two model nodes, lip-receiver and lip-sender, share around their own
// pipeline and service: the flags that say which model and bridge to load, the
// start-up configuration, fetching the node's bridge half from the registry
// (verified on download), the NodeInfo it registers, and the "listening" line
// on stdout that scripts and tests wait for. One place, so both nodes start,
// register and announce themselves the same way.
//
// Flags defined here: --model_dir --bridge_dir --bridge --bridge_version
// --shutdown_grace_ms --allow_model_mismatch --device --activations
// --torch_threads --cuda_graphs --few_row_matmul --graph_warmup_max_batch
// --random_weights_for_benchmark (the NodeConfig flags are in common/node/node_config.h). Link this
// only into the node binaries.
//
// Thread-safety: call from main() before serving.
#ifndef LIP_SERVER_MODEL_NODE_H_
#define LIP_SERVER_MODEL_NODE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/model/device_load_options.h"
#include "client/lip_client.h"
#include "common/node/logging.h"
#include "common/node/node_config.h"
#include "lip/v1/registry.pb.h"
#include "server/node_server.h"

namespace lip {

struct ModelNodeFlags {
  std::string model_dir;      // Hugging Face model directory
  std::string bridge_dir;     // local bridge checkpoint; "" = fetch `bridge_name` from the registry
  std::string bridge_name;
  uint32_t bridge_version = 0;  // 0 = newest
  absl::Duration shutdown_grace = absl::Seconds(10);
  bool allow_model_mismatch = false;
  std::string device = "cpu";        // cpu | cuda | cuda:N (bf16 weights on CUDA)
  std::string activations = "fp32";  // fp32 (parity) | model (bf16 activations on CUDA)
  bool cuda_graphs = true;           // on CUDA: LoadOptions::cuda_graphs
  bool few_row_matmul = false;       // on CUDA: LoadOptions::few_row_matmul
  int graph_warmup_max_batch = 64;   // batches captured before serving (server/graph_warmup.h); 0 = none
  // BENCHMARK ONLY: random model weights from model_dir/config.json and a random bridge half from
  // bridge_dir/bridge.json (see SenderPipelineOptions::random_weights_for_benchmark).
  bool random_weights_for_benchmark = false;
  int torch_threads = 0;  // LibTorch intra-op threads; 0 = LibTorch's default (one per core)
};

// The flags above, after absl::ParseCommandLine.
ModelNodeFlags ModelNodeFlagsFromCommandLine();

// NodeConfigFromFlags(), then the log level applied and node_id defaulted: to the node id
// the TLS certificate names (lip://node/<id>) when it names exactly one, else "<role>-<pid>".
// INVALID_ARGUMENT when the certificate names node ids and node_id is not one of them (the
// registry would refuse to register it) or names several and --node_id is not given.
// Then starts TLS reloading (StartTlsReloading, server/node_server.h) on config.tls.
absl::StatusOr<NodeConfig> ModelNodeConfig(const std::string& role);

// A client of config.registry_address (calls time out after `timeout`); nullptr when the
// node runs without a registry. It reconnects within 2 s of a registry's return and, while
// the registry is unreachable, answers ListNodes with its last answer (up to 10 minutes old).
absl::StatusOr<std::unique_ptr<RegistryClient>> ConnectRegistry(const NodeConfig& config,
                                                                 absl::Duration timeout);

// The directory the node loads its bridge from: flags.bridge_dir when given, otherwise
// bridge.json and `half_file` ("receiver.safetensors" or "sender.safetensors") of
// flags.bridge_name, downloaded from `registry` into <data_dir>/bridges/<node_id>-<name>
// with their sizes and digests checked. INVALID_ARGUMENT when neither source is given.
absl::StatusOr<std::string> LocalBridgeDir(const std::string& role, const NodeConfig& config,
                                           const ModelNodeFlags& flags, RegistryClient* registry,
                                           const std::string& half_file);

// Sets LibTorch's intra-op threads when `threads` > 0 and logs the number in use.
void ApplyTorchThreads(const std::string& role, int threads);

// Applies flags.torch_threads, finds or fetches the bridge (LocalBridgeDir), then loads Pipeline (ReceiverPipeline or
// SenderPipeline, with its Options struct) with the model and the bridge; logs what it loaded.
template <typename Pipeline, typename Options>
absl::StatusOr<std::unique_ptr<Pipeline>> LoadModelPipeline(const std::string& role,
                                                             const NodeConfig& config,
                                                             const ModelNodeFlags& flags,
                                                             RegistryClient* registry,
                                                             const std::string& half_file) {
  ApplyTorchThreads(role, flags.torch_threads);
  auto bridge_dir = LocalBridgeDir(role, config, flags, registry, half_file);
  if (!bridge_dir.ok()) return bridge_dir.status();
  Options options;
  options.bridge_dir = *bridge_dir;
  options.model_dir = flags.model_dir;
  options.allow_model_mismatch = flags.allow_model_mismatch;
  auto model_options = LoadOptionsForDevice(flags.device, flags.activations);
  if (!model_options.ok()) return model_options.status();
  options.model_options = *model_options;
  options.model_options.cuda_graphs = flags.cuda_graphs;
  options.model_options.few_row_matmul = flags.few_row_matmul;
  options.random_weights_for_benchmark = flags.random_weights_for_benchmark;
  if (flags.random_weights_for_benchmark) {
    LogWarning(role, "BENCHMARK MODE: random model and bridge weights, answers are meaningless",
               {{"model_dir", flags.model_dir}, {"bridge_dir", *bridge_dir}});
  }
  auto pipeline = Pipeline::Load(options);
  if (!pipeline.ok()) return pipeline.status();
  LogInfo(role, "pipeline loaded",
          {{"bridge", (*pipeline)->bridge().name}, {"model", (*pipeline)->model_id().name},
           {"device", flags.device}, {"activations", flags.activations},
           {"cuda_graphs", flags.cuda_graphs ? "on" : "off"},
           {"few_row_matmul", (*pipeline)->model().uses_few_row_matmul() ? "on" : "off"}});
  return pipeline;
}

// What the node registers: id, role, address, model and its one bridge.
lip::v1::NodeInfo DescribeModelNode(const NodeConfig& config, lip::v1::NodeRole role,
                                    const std::string& address, const BridgeModelId& model,
                                    const BridgeMetadata& bridge);

// The address the registry hands out: --advertise_address, or the bound one.
std::string AdvertisedAddress(const NodeConfig& config, const NodeServer& server);

// Logs "serving" and prints {"event":"listening","node_id","port","metrics_port"} on stdout.
void AnnounceListening(const std::string& role, const NodeConfig& config, const NodeServer& server,
                       const std::string& address);

// Runs `warm_up` (WarmUpReceiverGraphs or WarmUpSenderGraphs, server/graph_warmup.h) and logs
// what it captured; a failure is logged and the node serves anyway (graphs are then captured on
// first use, or the forward runs eagerly).
template <typename WarmUp>
void WarmUpModelGraphs(const std::string& role, WarmUp warm_up) {
  auto report = warm_up();
  if (!report.ok()) {
    LogWarning(role, "CUDA graph warm-up failed; graphs are captured on first use",
               {{"error", report.status().ToString()}});
  } else if (report->batches > 0) {
    LogInfo(role, "CUDA graphs warmed up",
            {{"batches", std::to_string(report->batches)},
             {"text_lengths", std::to_string(report->text_lengths)},
             {"elapsed_ms", std::to_string(report->elapsed_ms)},
             {"pipeline_graphs", std::to_string(report->pipeline_graphs)},
             {"model_graphs", std::to_string(report->model_graphs)}});
  }
}

// Logs `what` with the error and returns main()'s exit status 1.
int FailStartup(const std::string& role, const char* what, const absl::Status& status);

}  // namespace lip

#endif  // LIP_SERVER_MODEL_NODE_H_
