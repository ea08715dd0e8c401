// Sender fan-out end to end (docs/protocol.md §13): two receivers — the demo Qwen2 receiver and
// the demo Llama model as a second receiver — and a sender with two bridges sharing one sender
// half, as real processes over mutual TLS on 127.0.0.1 (random bridges: the wiring is under
// test, not the accuracy). Checked: one SendFanOut brings each receiver's answer from its own
// bridge plus the jointly rescored answer; a receiver that is down has a clear error in its
// outcome while the other's answer and the joint answer (over it alone) still come back; bad
// requests get INVALID_ARGUMENT / NOT_FOUND; a bridge with another sender half is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/joint_rescoring.h"
#include "client/lip_client.h"
#include "server/sender/fanout_bridges.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
using testing::NodeProcess;

constexpr char kBridgeName[] = "fanout-test-sst2";

class FanOutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-fanout");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    const std::string root = dir_->root();
    ASSERT_TRUE(testing::MakeRandomFanOutBridges(root + "/bridge-qwen2", root + "/bridge-llama", kBridgeName).ok());
    qwen2_ = dir_->StartNamed(LIP_RECEIVER_BINARY, "receiver", "receiver-qwen2",
                              {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                               "--bridge_dir=" + root + "/bridge-qwen2", "--allow_model_mismatch",
                               "--data_dir=" + root + "/qwen2-data"})
                 .release();
    ASSERT_NE(qwen2_, nullptr);
    llama_ = dir_->StartNamed(LIP_RECEIVER_BINARY, "receiver", "receiver-llama",
                              {"--model_dir=" + std::string(testing::kDemoSenderModel),
                               "--bridge_dir=" + root + "/bridge-llama", "--allow_model_mismatch",
                               "--data_dir=" + root + "/llama-data"})
                 .release();
    ASSERT_NE(llama_, nullptr);
    sender_ = dir_->Start(LIP_SENDER_BINARY, "sender",
                          {"--model_dir=" + std::string(testing::kDemoSenderModel),
                           "--bridge_dir=" + root + "/bridge-qwen2", "--fanout_bridge_dirs=" + root + "/bridge-llama",
                           "--allow_model_mismatch", "--data_dir=" + root + "/sender-data"})
                  .release();
    ASSERT_NE(sender_, nullptr);
    auto client = SenderClient::Connect(dir_->Options("admin", sender_->port()));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = client->release();
  }
  static void TearDownTestSuite() {
    delete client_;
    for (NodeProcess* node : {sender_, qwen2_, llama_}) {
      if (node != nullptr) node->Terminate();
      delete node;
    }
    if (dir_ != nullptr) dir_->Remove();
    delete dir_;
  }
  void SetUp() override {
    if (client_ == nullptr) GTEST_SKIP();
  }

  static lip::v1::SendFanOutRequest Request(const std::string& text, int qwen2_port, int llama_port) {
    lip::v1::SendFanOutRequest request;
    request.mutable_encode()->set_text(text);
    lip::v1::FanOutTarget* qwen2 = request.add_targets();
    qwen2->mutable_receiver_model()->set_name(testing::kDemoReceiverModelName);
    qwen2->set_receiver_address(absl::StrCat("127.0.0.1:", qwen2_port));
    lip::v1::FanOutTarget* llama = request.add_targets();
    llama->mutable_receiver_model()->set_name(testing::kDemoSenderModelName);
    llama->set_receiver_address(absl::StrCat("127.0.0.1:", llama_port));
    return request;
  }

  static testing::NodeTestDir* dir_;
  static NodeProcess* qwen2_;
  static NodeProcess* llama_;
  static NodeProcess* sender_;
  static SenderClient* client_;
};
testing::NodeTestDir* FanOutTest::dir_ = nullptr;
NodeProcess* FanOutTest::qwen2_ = nullptr;
NodeProcess* FanOutTest::llama_ = nullptr;
NodeProcess* FanOutTest::sender_ = nullptr;
SenderClient* FanOutTest::client_ = nullptr;

TEST_F(FanOutTest, OneEncodeBringsEachReceiversAnswerAndTheJointOne) {
  for (const std::string& text : testing::kDemoTexts) {
    auto response = client_->SendFanOut(Request(text, qwen2_->port(), llama_->port()));
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->outcomes_size(), 2);
    std::vector<std::vector<float>> scores;
    const std::string bridges[2] = {std::string(kBridgeName) + "-qwen2", std::string(kBridgeName) + "-llama"};
    const std::string models[2] = {testing::kDemoReceiverModelName, testing::kDemoSenderModelName};
    for (int i = 0; i < 2; ++i) {
      const lip::v1::ReceiverOutcome& outcome = response->outcomes(i);
      ASSERT_FALSE(outcome.has_error()) << outcome.error().message();
      ASSERT_TRUE(outcome.answer().has_classification());
      // Each packet carried its own bridge, and the receiver answered with it.
      EXPECT_EQ(outcome.bridge().name(), bridges[i]);
      EXPECT_EQ(outcome.answer().bridge().name(), bridges[i]);
      EXPECT_EQ(outcome.answer().receiver_model().name(), models[i]);
      EXPECT_EQ(outcome.receiver_model().name(), models[i]);
      EXPECT_GT(outcome.wire_bytes(), 0u);
      EXPECT_DOUBLE_EQ(outcome.timings().encode_ms(), response->encode_ms());  // one encode
      const auto& log_probs = outcome.answer().classification().log_probs();
      ASSERT_EQ(log_probs.size(), 2);
      scores.emplace_back(log_probs.begin(), log_probs.end());
    }
    // The joint answer is the rescoring of the two receivers' label scores.
    ASSERT_TRUE(response->has_joint());
    auto expected = RescoreJointly(scores);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(response->joint().receivers(), 2u);
    EXPECT_EQ(int64_t(response->joint().label_index()), expected->label_index);
    EXPECT_EQ(response->joint().label(), testing::kDemoBridgeLabels[expected->label_index]);
    ASSERT_EQ(response->joint().log_probs_size(), 2);
    EXPECT_NEAR(response->joint().log_probs(1), expected->log_probs[1], 1e-4);
    EXPECT_EQ(response->text_bytes(), text.size());
  }
}

TEST_F(FanOutTest, BadRequestsAreRefusedBeforeAnythingIsSent) {
  lip::v1::SendFanOutRequest none;
  none.mutable_encode()->set_text("a fine film .");
  auto empty = client_->SendFanOut(none);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument) << empty.status();

  lip::v1::SendFanOutRequest twice = Request("a fine film .", qwen2_->port(), llama_->port());
  *twice.mutable_targets(1)->mutable_receiver_model() = twice.targets(0).receiver_model();
  auto duplicate = client_->SendFanOut(twice);
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kInvalidArgument) << duplicate.status();

  lip::v1::SendFanOutRequest unknown = Request("a fine film .", qwen2_->port(), llama_->port());
  unknown.mutable_targets(1)->mutable_receiver_model()->set_name("nobody/model");
  auto missing = client_->SendFanOut(unknown);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find("nobody/model"), std::string::npos) << missing.status();

  lip::v1::SendFanOutRequest no_text = Request("", qwen2_->port(), llama_->port());
  EXPECT_EQ(client_->SendFanOut(no_text).status().code(), absl::StatusCode::kInvalidArgument);

  lip::v1::SendFanOutRequest named = Request("a fine film .", qwen2_->port(), llama_->port());
  named.mutable_encode()->mutable_receiver_model()->set_name(testing::kDemoReceiverModelName);
  EXPECT_EQ(client_->SendFanOut(named).status().code(), absl::StatusCode::kInvalidArgument);
}

// Last in this suite: it stops the Llama receiver.
TEST_F(FanOutTest, ZReceiverDownLeavesTheOthersAnswerWithAClearErrorForTheDeadOne) {
  const int llama_port = llama_->port();
  llama_->Kill9();
  auto response = client_->SendFanOut(Request("a gorgeous , witty , seductive movie .", qwen2_->port(), llama_port));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->outcomes_size(), 2);
  EXPECT_FALSE(response->outcomes(0).has_error());
  EXPECT_TRUE(response->outcomes(0).answer().has_classification());
  const lip::v1::ReceiverOutcome& dead = response->outcomes(1);
  ASSERT_TRUE(dead.has_error());
  EXPECT_FALSE(dead.has_answer());
  EXPECT_EQ(dead.error().code(), static_cast<int32_t>(absl::StatusCode::kUnavailable)) << dead.error().message();
  EXPECT_NE(dead.error().message().find(testing::kDemoSenderModelName), std::string::npos) << dead.error().message();
  EXPECT_NE(dead.error().message().find(absl::StrCat("127.0.0.1:", llama_port)), std::string::npos);
  // The joint answer is the surviving receiver's alone.
  ASSERT_TRUE(response->has_joint());
  EXPECT_EQ(response->joint().receivers(), 1u);
  EXPECT_EQ(response->joint().label_index(), response->outcomes(0).answer().classification().label_index());

  // With every receiver down the call fails, naming each one.
  lip::v1::SendFanOutRequest only_dead;
  only_dead.mutable_encode()->set_text("the film is strictly routine .");
  *only_dead.add_targets() = Request("", 0, llama_port).targets(1);
  auto failed = client_->SendFanOut(only_dead);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_NE(failed.status().message().find(testing::kDemoSenderModelName), std::string::npos) << failed.status();
}

TEST(FanOutBridgesTest, OnlyBridgesSharingTheSenderHalfJoin) {
  if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
  const std::string root = testing::MakeTempDir("lip-fanout-bridges");
  ASSERT_TRUE(testing::MakeRandomFanOutBridges(root + "/qwen2", root + "/llama", "shared").ok());
  ASSERT_TRUE(testing::MakeRandomDemoBridge(root + "/alone", "alone").ok());
  auto own = ReadBridgeMetadata(root + "/qwen2");
  auto partner = ReadBridgeMetadata(root + "/llama");
  auto alone = ReadBridgeMetadata(root + "/alone");
  ASSERT_TRUE(own.ok() && partner.ok() && alone.ok());

  FanOutBridges bridges(*own);
  ASSERT_TRUE(bridges.Add(*partner).ok());
  EXPECT_EQ(bridges.receiver_models(),
            (std::vector<std::string>{testing::kDemoReceiverModelName, testing::kDemoSenderModelName}));
  auto found = bridges.ForReceiver(testing::kDemoSenderModelName);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->name, "shared-llama");
  EXPECT_EQ(bridges.ForReceiver("nobody").status().code(), absl::StatusCode::kNotFound);
  // Another sender half (a separately trained bridge) cannot share the encode.
  alone->receiver_model.name = "someone/else";
  const absl::Status refused = bridges.Add(*alone);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("sender half"), std::string::npos) << refused;
  // Two bridges for one receiver model are ambiguous.
  EXPECT_EQ(bridges.Add(*partner).code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace lip
