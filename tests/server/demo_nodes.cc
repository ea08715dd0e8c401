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

absl::Status MakeRandomDemoBridge(const std::string& dir, const std::string& name) {
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
  torch::manual_seed(7);
  SenderEncoder encoder(m.sender);
  ReceiverAdapter adapter(m.receiver.adapter);
  return SaveBridgeCheckpoint(dir, m, *encoder, *adapter);
}

absl::StatusOr<NodeTestDir> NodeTestDir::Create(const std::string& prefix) {
  NodeTestDir dir(MakeTempDir(prefix));
  absl::Status certs = MakeCerts(dir.root_ + "/certs", {"admin", "registry", "sender", "receiver"});
  if (!certs.ok()) return certs;
  return dir;
}

std::unique_ptr<NodeProcess> NodeTestDir::Start(const std::string& binary, const std::string& role,
                                                const std::vector<std::string>& extra) const {
  std::vector<std::string> args = {
      "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
      "--tls_cert=" + root_ + "/certs/" + role + ".crt", "--tls_key=" + root_ + "/certs/" + role + ".key",
      "--tls_ca=" + root_ + "/certs/ca.crt", "--node_id=" + role + "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto process = NodeProcess::Start(binary, args, root_ + "/" + role + ".log", 120000);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
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
