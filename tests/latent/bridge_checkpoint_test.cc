// bridge.json round trip and the bridge checkpoint: save, load each half alone, integrity checks.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/bridge_config.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

BridgeMetadata SmallBridge() {
  BridgeMetadata m;
  m.name = "test-bridge";
  m.version = 3;
  m.sender_model = {"llama", "lip-test/sender", "r1", "sha256:aa"};
  m.receiver_model = {"qwen2", "lip-test/receiver", "r2", "sha256:bb"};
  m.sender.source_layer = 2;
  m.sender.max_text_tokens = 64;
  m.sender.perceiver.num_queries = 4;
  m.sender.perceiver.input_width = 12;
  m.sender.perceiver.width = 16;
  m.sender.perceiver.num_heads = 2;
  m.sender.perceiver.depth = 1;
  m.sender.perceiver.output_width = 6;
  m.receiver.adapter.input_width = 6;
  m.receiver.adapter.hidden_width = 20;
  m.receiver.adapter.output_width = 8;
  m.receiver.energy.mode = EnergyMode::kRms;
  m.receiver.energy.reference_energy = 0.5;
  m.receiver.energy.reference_rms = 0.02;
  m.priming = {"Article:", "\nTopic:"};
  m.task = "ag_news";
  m.labels = {" World", " Sports"};
  m.training = {{"steps", 10}};
  m.evaluation = {{"accuracy", 0.5}};
  return m;
}

class TempDir {
 public:
  TempDir() {
    path_ = (fs::temp_directory_path() /
             ("lip_bridge_checkpoint_test_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter_++)))
                .string();
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(BridgeConfigTest, JsonRoundTripKeepsEveryField) {
  BridgeMetadata m = SmallBridge();
  auto parsed = BridgeMetadataFromJson(BridgeMetadataToJson(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(BridgeMetadataToJson(*parsed), BridgeMetadataToJson(m));
  EXPECT_EQ(parsed->receiver.energy.mode, EnergyMode::kRms);
  EXPECT_EQ(parsed->sender.perceiver.num_queries, 4);
  EXPECT_EQ(parsed->priming.anchor, "\nTopic:");
}

TEST(BridgeConfigTest, InvalidMetadataIsRefusedNamingTheField) {
  BridgeMetadata m = SmallBridge();
  m.receiver.adapter.input_width = 7;
  absl::Status status = ValidateBridgeMetadata(m);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("adapter.input_width 7"), std::string::npos) << status;

  nlohmann::json j = BridgeMetadataToJson(SmallBridge());
  j["sender"]["perceiver"]["num_heads"] = "two";
  EXPECT_EQ(BridgeMetadataFromJson(j).status().code(), absl::StatusCode::kInvalidArgument);
  j = BridgeMetadataToJson(SmallBridge());
  j["format_version"] = 99;
  EXPECT_EQ(BridgeMetadataFromJson(j).status().code(), absl::StatusCode::kFailedPrecondition);
  j = BridgeMetadataToJson(SmallBridge());
  j["receiver"]["energy"]["mode"] = "loud";
  EXPECT_EQ(BridgeMetadataFromJson(j).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEnergyMode("per_vector_norm").value(), EnergyMode::kPerVectorNorm);
}

TEST(BridgeCheckpointTest, RoundTripReproducesBothHalvesExactly) {
  TempDir dir;
  BridgeMetadata m = SmallBridge();
  torch::manual_seed(11);
  SenderEncoder sender(m.sender);
  ASSERT_TRUE(sender->normalizer()->SetStatistics(torch::randn({12}), torch::rand({12}) + 0.5).ok());
  ReceiverAdapter receiver(m.receiver.adapter);
  BridgeMetadata saved;
  ASSERT_TRUE(SaveBridgeCheckpoint(dir.path(), m, *sender, *receiver, &saved).ok());
  EXPECT_EQ(saved.digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(saved.sender_file_digest.rfind("sha256:", 0), 0u);
  EXPECT_NE(saved.sender_file_digest, saved.receiver_file_digest);

  auto sender_half = LoadSenderHalf(dir.path());
  ASSERT_TRUE(sender_half.ok()) << sender_half.status();
  auto receiver_half = LoadReceiverHalf(dir.path());
  ASSERT_TRUE(receiver_half.ok()) << receiver_half.status();
  EXPECT_EQ(sender_half->metadata.digest, saved.digest);
  EXPECT_EQ(BridgeMetadataToJson(receiver_half->metadata), BridgeMetadataToJson(saved));

  torch::NoGradGuard no_grad;
  torch::Tensor states = torch::randn({2, 5, 12});
  torch::Tensor mask = torch::ones({2, 5});
  torch::Tensor z = sender->forward(states, mask);
  EXPECT_TRUE(torch::equal(sender_half->encoder->forward(states, mask), z));
  EXPECT_TRUE(torch::equal(receiver_half->adapter->forward(z), receiver->forward(z)));
  EXPECT_TRUE(torch::equal(sender_half->encoder->normalizer()->mean(), sender->normalizer()->mean()));
}

TEST(BridgeCheckpointTest, EachHalfLoadsWithoutTheOtherFile) {
  TempDir sender_only, receiver_only;
  BridgeMetadata m = SmallBridge();
  SenderEncoder sender(m.sender);
  ReceiverAdapter receiver(m.receiver.adapter);
  ASSERT_TRUE(SaveBridgeCheckpoint(sender_only.path(), m, *sender, *receiver).ok());
  ASSERT_TRUE(SaveBridgeCheckpoint(receiver_only.path(), m, *sender, *receiver).ok());
  fs::remove(fs::path(sender_only.path()) / kReceiverHalfFile);
  fs::remove(fs::path(receiver_only.path()) / kSenderHalfFile);

  EXPECT_TRUE(LoadSenderHalf(sender_only.path()).ok());
  EXPECT_EQ(LoadReceiverHalf(sender_only.path()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(LoadReceiverHalf(receiver_only.path()).ok());
  EXPECT_EQ(LoadSenderHalf(receiver_only.path()).status().code(), absl::StatusCode::kNotFound);
}

TEST(BridgeCheckpointTest, TamperedOrMismatchedFilesAreRefused) {
  TempDir dir;
  BridgeMetadata m = SmallBridge();
  SenderEncoder sender(m.sender);
  ReceiverAdapter receiver(m.receiver.adapter);
  ASSERT_TRUE(SaveBridgeCheckpoint(dir.path(), m, *sender, *receiver).ok());

  // Flip one byte at the end of the receiver file (inside tensor data).
  const std::string receiver_path = (fs::path(dir.path()) / kReceiverHalfFile).string();
  {
    std::fstream file(receiver_path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    char byte = 0;
    file.read(&byte, 1);
    byte ^= 0x55;
    file.seekp(-1, std::ios::end);
    file.write(&byte, 1);
  }
  EXPECT_EQ(LoadReceiverHalf(dir.path()).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(LoadSenderHalf(dir.path()).ok());

  // A module of another shape does not load from the file.
  SenderHalfConfig other = m.sender;
  other.perceiver.width = 32;
  SenderEncoder wider(other);
  absl::Status status =
      LoadModuleTensors((fs::path(dir.path()) / kSenderHalfFile).string(), *wider);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("shape"), std::string::npos) << status;

  EXPECT_EQ(ReadBridgeMetadata(dir.path() + "/missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lip
