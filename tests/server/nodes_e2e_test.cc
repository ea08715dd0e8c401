// End-to-end: registry, receiver and sender as real processes on 127.0.0.1
// with mutual TLS, using the shipped demo models and a bridge checkpoint made
// here (random halves: the wiring, not the accuracy, is under test). The
// nodes' answers must equal the in-process pipelines' answers; bad packets get
// INVALID_ARGUMENT with their reason while other clients keep being served;
// wrong roles are refused; a full queue answers RESOURCE_EXHAUSTED.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/latent/text_relay.h"
#include "client/lip_client.h"
#include "common/node/grpc_status.h"
#include "common/wire/packet_codec.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
namespace fs = std::filesystem;
using testing::NodeProcess;

using testing::kDemoReceiverModel;
using testing::kDemoSenderModel;
constexpr const char* kSenderModel = kDemoSenderModel;
constexpr const char* kReceiverModel = kDemoReceiverModel;
constexpr char kBridgeName[] = "nodes-test-sst2";

const std::vector<std::string>& kTexts = testing::kDemoTexts;

class NodesEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-nodes-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    root_ = new std::string(dir_->root());
    ASSERT_TRUE(testing::MakeRandomDemoBridge(*root_ + "/bridge", kBridgeName).ok());
    registry_ = Start(LIP_REGISTRY_BINARY, "registry",
                      {"--data_dir=" + *root_ + "/registry-data"}).release();
    ASSERT_NE(registry_, nullptr);
    auto admin = RegistryClient::Connect(Options("admin", registry_->port()));
    ASSERT_TRUE(admin.ok());
    auto uploaded = (*admin)->UploadBridgeDirectory(*root_ + "/bridge", lip::v1::BridgeRecord());
    ASSERT_FALSE(uploaded.ok());  // the header must name the bridge and models
    lip::v1::BridgeRecord header;
    header.mutable_id()->set_name(kBridgeName);
    header.mutable_sender_model()->set_name("lip-demo/sender-llama");
    header.mutable_receiver_model()->set_name("lip-demo/receiver-qwen2");
    header.set_task("sst2");
    uploaded = (*admin)->UploadBridgeDirectory(*root_ + "/bridge", header);
    ASSERT_TRUE(uploaded.ok()) << uploaded.status();
    auto metadata = ReadBridgeMetadata(*root_ + "/bridge");
    ASSERT_TRUE(metadata.ok());
    EXPECT_EQ(uploaded->id().digest(), metadata->digest);  // registry and bridge.json agree

    const std::string registry_address = absl::StrCat("127.0.0.1:", registry_->port());
    receiver_ = Start(LIP_RECEIVER_BINARY, "receiver",
                      {"--model_dir=" + std::string(kReceiverModel), "--bridge=" + std::string(kBridgeName),
                       "--registry=" + registry_address, "--data_dir=" + *root_ + "/receiver-data",
                       "--allow_model_mismatch", "--max_batch_size=4", "--max_batch_wait_ms=20"})
                    .release();
    ASSERT_NE(receiver_, nullptr);
    sender_ = Start(LIP_SENDER_BINARY, "sender",
                    {"--model_dir=" + std::string(kSenderModel), "--bridge=" + std::string(kBridgeName),
                     "--registry=" + registry_address, "--data_dir=" + *root_ + "/sender-data",
                     "--allow_model_mismatch", "--link_report_ms=200"})
                  .release();
    ASSERT_NE(sender_, nullptr);
  }

  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
    delete registry_;
    sender_ = receiver_ = registry_ = nullptr;
    if (dir_ != nullptr) {
      dir_->Remove();
      delete dir_;
      delete root_;
      dir_ = nullptr;
      root_ = nullptr;
    }
  }

  static std::unique_ptr<NodeProcess> Start(const std::string& binary, const std::string& role,
                                            const std::vector<std::string>& extra) {
    return dir_->Start(binary, role, extra);
  }
  static ClientOptions Options(const std::string& identity, int port) {
    return dir_->Options(identity, port);
  }

  static testing::NodeTestDir* dir_;
  static std::string* root_;
  static NodeProcess* registry_;
  static NodeProcess* receiver_;
  static NodeProcess* sender_;
};
testing::NodeTestDir* NodesEndToEndTest::dir_ = nullptr;
std::string* NodesEndToEndTest::root_ = nullptr;
NodeProcess* NodesEndToEndTest::registry_ = nullptr;
NodeProcess* NodesEndToEndTest::receiver_ = nullptr;
NodeProcess* NodesEndToEndTest::sender_ = nullptr;

TEST_F(NodesEndToEndTest, AnswersEqualInProcessPipelines) {
  SenderPipelineOptions sender_options;
  sender_options.bridge_dir = *root_ + "/bridge";
  sender_options.model_dir = kSenderModel;
  sender_options.allow_model_mismatch = true;
  auto sender = SenderPipeline::Load(sender_options);
  ASSERT_TRUE(sender.ok()) << sender.status();
  ReceiverPipelineOptions receiver_options;
  receiver_options.bridge_dir = *root_ + "/bridge";
  receiver_options.model_dir = kReceiverModel;
  receiver_options.allow_model_mismatch = true;
  auto receiver = ReceiverPipeline::Load(receiver_options);
  ASSERT_TRUE(receiver.ok()) << receiver.status();

  auto client = SenderClient::Connect(Options("admin", sender_->port()));
  ASSERT_TRUE(client.ok());
  for (const std::string& text : kTexts) {
    // In process: the same steps the nodes take, with an fp32 wire.
    auto encoded = (*sender)->Encode({text});
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    LatentMessage message;
    message.z = encoded->front().z;
    message.num_soft_tokens = encoded->front().num_soft_tokens;
    message.width = encoded->front().width;
    message.task.labels = {" negative", " positive"};
    auto expected = (*receiver)->Answer({message});
    ASSERT_TRUE(expected.ok() && (*expected)[0].ok());

    lip::v1::SendRequest request;
    request.mutable_encode()->set_text(text);
    request.mutable_encode()->set_wire_dtype(lip::v1::DTYPE_FP32);
    auto response = (*client)->Send(request);  // receiver resolved through the registry
    ASSERT_TRUE(response.ok()) << response.status();
    const auto& answer = response->answer();
    ASSERT_TRUE(answer.has_classification());
    EXPECT_EQ(answer.classification().label(), (*expected)[0]->label) << text;
    ASSERT_EQ(answer.classification().log_probs_size(), 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(answer.classification().log_probs(i), (*expected)[0]->label_log_probs[i], 1e-3) << text;
    }
    EXPECT_EQ(answer.bridge().name(), kBridgeName);
    EXPECT_EQ(answer.receiver_model().name(), "lip-demo/receiver-qwen2");
    EXPECT_GT(response->wire_bytes(), 8u * 64u * 4u);  // M*d fp32 values plus header
    EXPECT_EQ(response->text_bytes(), text.size());
    EXPECT_GT(response->timings().total_ms(), 0);
    EXPECT_GE(response->timings().total_ms(), response->timings().encode_ms());
    // The encode's parts: the wait for a batch and the pipeline's run lie inside it (the rest is the packet).
    EXPECT_GT(response->timings().sender_pipeline_ms(), 0);
    EXPECT_GE(response->timings().sender_queue_ms(), 0);
    EXPECT_LE(response->timings().sender_queue_ms() + response->timings().sender_pipeline_ms(),
              response->timings().encode_ms() + 0.5);  // two clocks (wall and steady)
    EXPECT_FALSE(response->receiver_address().empty());
  }

  // Text relay: the sender writes its message about the text (the relay frame, 32 tokens by
  // default) and the receiver reads it; both equal the in-process pipelines' results. Every text is
  // answered, also when the sender writes little or nothing.
  for (const std::string& text : kTexts) {
    lip::v1::RelayTextRequest relay;
    relay.set_text(text);
    auto relayed = (*client)->RelayText(relay);
    ASSERT_TRUE(relayed.ok()) << relayed.status();
    auto written = WriteRelayMessage(**sender, text, 32);
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(relayed->relayed_text(), written->text);
    EXPECT_LE(written->token_ids.size(), 32u);
    TextMessage text_message;
    text_message.text = written->text;
    text_message.task.labels = {" negative", " positive"};
    auto expected_text = (*receiver)->AnswerText({text_message});
    ASSERT_TRUE(expected_text.ok() && (*expected_text)[0].ok());
    EXPECT_EQ(relayed->answer().classification().label(), (*expected_text)[0]->label);
    EXPECT_EQ(relayed->wire_bytes(), written->text.size());
  }
  // The receiver reads an empty text too (a relay may be empty).
  auto receiver_client = ReceiverClient::Connect(Options("sender", receiver_->port()));
  ASSERT_TRUE(receiver_client.ok());
  lip::v1::SendTextRequest empty_text;
  auto empty_answer = (*receiver_client)->SendText(empty_text);
  ASSERT_TRUE(empty_answer.ok()) << empty_answer.status();
  EXPECT_TRUE(empty_answer->has_classification());
}

TEST_F(NodesEndToEndTest, BadPacketIsRefusedWithReasonWhileOthersAreServed) {
  auto sender_client = SenderClient::Connect(Options("admin", sender_->port()));
  ASSERT_TRUE(sender_client.ok());
  lip::v1::EncodeRequest encode;
  encode.set_text(kTexts[0]);
  auto packet = (*sender_client)->Encode(encode);
  ASSERT_TRUE(packet.ok()) << packet.status();
  EXPECT_EQ(packet->packet().tensor().dtype(), lip::v1::DTYPE_FP16);  // the node's default

  auto receiver_client = ReceiverClient::Connect(Options("sender", receiver_->port()));
  ASSERT_TRUE(receiver_client.ok());
  lip::v1::LipPacket corrupted = packet->packet();
  corrupted.mutable_tensor()->set_crc32c(corrupted.tensor().crc32c() ^ 1);

  std::atomic<int> good_ok{0}, good_failed{0}, bad_refused{0}, bad_other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        lip::v1::SendRequest request;
        request.mutable_encode()->set_text(kTexts[(t + i) % kTexts.size()]);
        auto response = (*sender_client)->Send(request);
        (response.ok() ? good_ok : good_failed)++;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 12; ++i) {
      auto response = (*receiver_client)->SendLatent(corrupted);
      const bool refused = response.status().code() == absl::StatusCode::kInvalidArgument &&
                           ErrorReasonOf(response.status()) == "CHECKSUM_MISMATCH";
      (refused ? bad_refused : bad_other)++;
    }
  });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good_ok.load(), 12);
  EXPECT_EQ(good_failed.load(), 0);
  EXPECT_EQ(bad_refused.load(), 12);
  EXPECT_EQ(bad_other.load(), 0);

  // The intact packet, sent directly, is answered.
  auto direct = (*receiver_client)->SendLatent(packet->packet());
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(direct->has_classification());
  EXPECT_EQ(direct->packet_id(), packet->packet().packet_id());

  // A packet for another bridge is refused with a reason.
  lip::v1::LipPacket other = packet->packet();
  other.mutable_bridge()->set_name("some-other-bridge");
  auto refused = (*receiver_client)->SendLatent(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(refused.status()), "BRIDGE_MISMATCH");
}

TEST_F(NodesEndToEndTest, StreamAnswersEachMessageAndKeepsGoingAfterABadOne) {
  auto sender_client = SenderClient::Connect(Options("admin", sender_->port()));
  ASSERT_TRUE(sender_client.ok());
  auto receiver_client = ReceiverClient::Connect(Options("sender", receiver_->port()));
  ASSERT_TRUE(receiver_client.ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = receiver_client.value()->stub()->StreamLatents(&context);
  std::map<uint64_t, lip::v1::LipPacket> sent;
  for (uint64_t sequence = 0; sequence < 4; ++sequence) {
    lip::v1::EncodeRequest encode;
    encode.set_text(kTexts[sequence]);
    encode.set_conversation_id("conv-1");
    encode.set_sequence(sequence);
    auto packet = (*sender_client)->Encode(encode);
    ASSERT_TRUE(packet.ok());
    lip::v1::SendLatentRequest request;
    *request.mutable_packet() = packet->packet();
    if (sequence == 2) request.mutable_packet()->set_soft_token_count(7);  // size mismatch
    sent[sequence] = request.packet();
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  std::map<uint64_t, lip::v1::SendLatentResponse> answers;
  lip::v1::SendLatentResponse response;
  while (stream->Read(&response)) answers[response.sequence()] = response;
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 4u);
  for (const auto& [sequence, answer] : answers) {
    EXPECT_EQ(answer.conversation_id(), "conv-1");
    EXPECT_EQ(answer.packet_id(), sent[sequence].packet_id());
    if (sequence == 2) {
      ASSERT_TRUE(answer.has_error());
      EXPECT_EQ(answer.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
      EXPECT_FALSE(answer.error().reason().empty());
    } else {
      EXPECT_TRUE(answer.has_classification()) << sequence;
    }
  }
}

TEST_F(NodesEndToEndTest, RefusesWrongRolesAndMissingCertificates) {
  auto encode_client = SenderClient::Connect(Options("admin", sender_->port()));
  lip::v1::EncodeRequest encode;
  encode.set_text(kTexts[0]);
  auto packet = (*encode_client)->Encode(encode);
  ASSERT_TRUE(packet.ok());
  // Only senders may call a receiver.
  for (const char* identity : {"admin", "receiver", "registry"}) {
    auto client = ReceiverClient::Connect(Options(identity, receiver_->port()));
    ASSERT_TRUE(client.ok());
    EXPECT_EQ((*client)->SendLatent(packet->packet()).status().code(), absl::StatusCode::kPermissionDenied)
        << identity;
  }
  // Only admins and senders may use a sender.
  auto as_receiver = SenderClient::Connect(Options("receiver", sender_->port()));
  EXPECT_EQ((*as_receiver)->Encode(encode).status().code(), absl::StatusCode::kPermissionDenied);
  // No client certificate at all: the handshake fails.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ReadFileToString(*root_ + "/certs/ca.crt");
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->port()), grpc::SslCredentials(ssl));
  ReceiverClient anonymous(channel, Options("sender", receiver_->port()));
  EXPECT_EQ(anonymous.SendLatent(packet->packet()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(NodesEndToEndTest, MetricsAndLinkStatsMoveWithTraffic) {
  auto client = SenderClient::Connect(Options("admin", sender_->port()));
  auto before_text = testing::HttpGet(receiver_->metrics_port(), "/metrics");
  ASSERT_TRUE(before_text.ok());
  auto before = testing::ParsePrometheusText(*before_text);
  ASSERT_TRUE(before.ok()) << before.status();
  const double answered = testing::SumSamples(*before, "lip_receiver_messages_total",
                                              {{"rpc", "SendLatent"}, {"code", "OK"}});
  lip::v1::SendRequest request;
  request.mutable_encode()->set_text(kTexts[2]);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*client)->Send(request).ok());
  auto after_text = testing::HttpGet(receiver_->metrics_port(), "/metrics");
  ASSERT_TRUE(after_text.ok());
  auto after = testing::ParsePrometheusText(*after_text);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(testing::SumSamples(*after, "lip_receiver_messages_total", {{"rpc", "SendLatent"}, {"code", "OK"}}),
            answered + 3);
  EXPECT_GE(testing::SumSamples(*after, "lip_stage_ms_count", {{"stage", "prefill"}}), answered + 3);
  EXPECT_GT(testing::SumSamples(*after, "lip_receiver_batch_size_count"), 0);
  EXPECT_GT(testing::SumSamples(*after, "lip_receiver_wire_bytes_total"), 0);

  auto sender_text = testing::HttpGet(sender_->metrics_port(), "/metrics");
  ASSERT_TRUE(sender_text.ok());
  auto sender_samples = testing::ParsePrometheusText(*sender_text);
  ASSERT_TRUE(sender_samples.ok());
  EXPECT_GE(testing::SumSamples(*sender_samples, "lip_stage_ms_count", {{"stage", "encode"}}), 3);

  // The sender reports link statistics to the registry every 200 ms.
  auto registry = RegistryClient::Connect(Options("admin", registry_->port()));
  bool reported = false;
  for (int i = 0; i < 100 && !reported; ++i) {
    auto links = (*registry)->GetLinkStats();
    reported = links.ok() && !links->empty() && (*links)[0].messages() >= 3 && (*links)[0].bytes() > 0;
    if (!reported) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(reported);
  auto nodes = (*registry)->ListNodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(nodes->size(), 2u);  // sender-1 and receiver-1
}

TEST_F(NodesEndToEndTest, FullQueueAnswersResourceExhaustedNeverHangs) {
  auto small = Start(LIP_RECEIVER_BINARY, "receiver",
                     {"--model_dir=" + std::string(kReceiverModel), "--bridge_dir=" + *root_ + "/bridge",
                      "--allow_model_mismatch", "--max_batch_size=1", "--queue_limit=1",
                      "--node_id=receiver-small"});
  ASSERT_NE(small, nullptr);
  auto encode_client = SenderClient::Connect(Options("admin", sender_->port()));
  lip::v1::EncodeRequest encode;
  encode.set_text(kTexts[3]);
  encode.mutable_task()->mutable_generate()->set_max_new_tokens(24);  // slow enough to queue up
  auto packet = (*encode_client)->Encode(encode);
  ASSERT_TRUE(packet.ok());
  auto client = ReceiverClient::Connect(Options("sender", small->port()));
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      auto response = (*client)->SendLatent(packet->packet());
      if (response.ok()) ok++;
      else if (response.status().code() == absl::StatusCode::kResourceExhausted) exhausted++;
      else other++;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(exhausted.load(), 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(small->Terminate(), 0);
}

}  // namespace
}  // namespace lip
