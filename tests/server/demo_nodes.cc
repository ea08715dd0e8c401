#include "tests/server/demo_nodes.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"

namespace lip::testing {
namespace fs = std::filesystem;

bool DemoModelsPresent() {
  return fs::exists(std::string(kDemoSenderModel) + "/config.json") &&
         fs::exists(std::string(kDemoReceiverModel) + "/config.json");
}

namespace {

BridgeMetadata RandomDemoBridgeMetadata(const std::string& name) {
  BridgeMetadata m;
  m.name = name;
  m.version = 1;
  m.sender_model.family = "llama";
  m.sender_model.name = kDemoSenderModelName;
  m.receiver_model.family = "qwen2";
  m.receiver_model.name = kDemoReceiverModelName;
  m.sender.source_layer = 3;
  m.sender.max_text_tokens = 64;
  m.sender.perceiver.num_queries = 8;
  m.sender.perceiver.input_width = 384;
  m.sender.perceiver.width = 64;
  m.sender.perceiver.num_heads = 4;
  m.sender.perceiver.depth = 1;
  m.sender.perceiver.output_width = 64;
  m.receiver.adapter.input_width = 64;
  m.receiver.adapter.hidden_width = 64;
  m.receiver.adapter.output_width = 256;
  m.receiver.energy.mode = EnergyMode::kPerVectorNorm;
  m.receiver.energy.reference_energy = 1.0;
  m.receiver.energy.reference_rms = 0.06;
  m.priming.context_prefix = "Review:";
  m.priming.anchor = " Sentiment:";
  m.task = "sst2";
  m.labels = kDemoBridgeLabels;
  return m;
}

}  // namespace

absl::Status MakeRandomDemoBridge(const std::string& dir, const std::string& name) {
  const BridgeMetadata m = RandomDemoBridgeMetadata(name);
  torch::manual_seed(7);
  SenderEncoder encoder(m.sender);
  ReceiverAdapter adapter(m.receiver.adapter);
  return SaveBridgeCheckpoint(dir, m, *encoder, *adapter);
}

absl::Status MakeRandomFanOutBridges(const std::string& qwen2_dir, const std::string& llama_dir,
                                     const std::string& name) {
  BridgeMetadata qwen2 = RandomDemoBridgeMetadata(name + "-qwen2");
  BridgeMetadata llama = RandomDemoBridgeMetadata(name + "-llama");
  llama.receiver_model.family = "llama";
  llama.receiver_model.name = kDemoSenderModelName;
  llama.receiver.adapter.output_width = 384;
  llama.receiver.energy.reference_energy = 1.7;  // each receiver's own E_ref travels in its packet
  torch::manual_seed(11);
  SenderEncoder encoder(qwen2.sender);
  ReceiverAdapter qwen2_adapter(qwen2.receiver.adapter);
  ReceiverAdapter llama_adapter(llama.receiver.adapter);
  const std::string shared = qwen2.name + "+" + llama.name;
  absl::Status saved = SaveBridgeCheckpoint(qwen2_dir, qwen2, *encoder, *qwen2_adapter, nullptr, shared);
  if (!saved.ok()) return saved;
  return SaveBridgeCheckpoint(llama_dir, llama, *encoder, *llama_adapter, nullptr, shared);
}

absl::StatusOr<NodeTestDir> NodeTestDir::Create(const std::string& prefix) {
  NodeTestDir dir(MakeTempDir(prefix));
  absl::Status certs = MakeCerts(dir.root_ + "/certs", {"admin", "registry", "sender", "receiver"});
  if (!certs.ok()) return certs;
  return dir;
}

namespace {

std::unique_ptr<NodeProcess> StartNode(const std::string& root, const std::string& binary, const std::string& role,
                                       const std::string& node_id, const std::string& log_name,
                                       const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
      "--tls_cert=" + root + "/certs/" + role + ".crt", "--tls_key=" + root + "/certs/" + role + ".key",
      "--tls_ca=" + root + "/certs/ca.crt", "--node_id=" + node_id};
  args.insert(args.end(), extra.begin(), extra.end());
  auto process = NodeProcess::Start(binary, args, root + "/" + log_name + ".log", 120000);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
}

}  // namespace

std::unique_ptr<NodeProcess> NodeTestDir::Start(const std::string& binary, const std::string& role,
                                                const std::vector<std::string>& extra) const {
  return StartNode(root_, binary, role, role + "-1", role, extra);
}

std::unique_ptr<NodeProcess> NodeTestDir::StartNamed(const std::string& binary, const std::string& role,
                                                     const std::string& node_id,
                                                     const std::vector<std::string>& extra) const {
  return StartNode(root_, binary, role, node_id, node_id, extra);
}

ClientOptions NodeTestDir::Options(const std::string& identity, int port) const {
  ClientOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.tls = {root_ + "/certs/" + identity + ".crt", root_ + "/certs/" + identity + ".key",
                 root_ + "/certs/ca.crt"};
  options.timeout = absl::Seconds(120);
  return options;
}

void NodeTestDir::Remove() const {
  if (std::getenv("LIP_KEEP_TEST_DIR") != nullptr) return;
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

}  // namespace lip::testing
