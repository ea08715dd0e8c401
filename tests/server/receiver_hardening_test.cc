// Regression tests for the receiver and sender findings of the reliability review (issue 14),
// on real node processes over mutual TLS on 127.0.0.1 with the demo pair and a random bridge:
//   - packets that pass the codec but fail in the pipeline are answered with a clean error,
//     many times over, and the receiver keeps serving (it used to crash: use after free);
//   - pathological messages within the packet limits (a 65,000-byte anchor, 1,024 labels, a
//     generation longer than the model) are refused before any work, while others are served;
//   - request bytes that are no lip.v1 request are INVALID_ARGUMENT / MALFORMED (unary and
//     stream); a request over the 16 MiB packet limit is refused by gRPC itself;
//   - a packet for another version of the bridge is BRIDGE_MISMATCH;
//   - an empty text (a relay whose sender wrote nothing) is answered;
//   - streams get backpressure instead of "queue is full";
//   - with two receivers serving one bridge, kill -9 of one loses no message (sender failover).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/node/grpc_status.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_limits.h"
#include "common/node/tls_credentials.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
using testing::NodeProcess;

constexpr char kBridgeName[] = "hardening-test-sst2";
constexpr char kText[] = "a gorgeous , witty , seductive movie .";

bool StillRunning(const NodeProcess& node) { return kill(node.pid(), 0) == 0 && waitpid(node.pid(), nullptr, WNOHANG) == 0; }

// A message from a status must be readable text: no heap bytes (the use-after-free showed them).
bool PrintableMessage(const absl::Status& status) {
  for (unsigned char c : status.message()) {
    if (c < 0x20 && c != '\n' && c != '\t') return false;
  }
  return !status.message().empty();
}

class ReceiverHardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-hardening");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    ASSERT_TRUE(testing::MakeRandomDemoBridge(dir_->root() + "/bridge", kBridgeName).ok());
    receiver_ = dir_->Start(LIP_RECEIVER_BINARY, "receiver",
                            {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                             "--bridge_dir=" + dir_->root() + "/bridge", "--allow_model_mismatch",
                             "--max_batch_size=4", "--max_batch_wait_ms=5"})
                    .release();
    ASSERT_NE(receiver_, nullptr);
    sender_ = dir_->Start(LIP_SENDER_BINARY, "sender",
                          {"--model_dir=" + std::string(testing::kDemoSenderModel),
                           "--bridge_dir=" + dir_->root() + "/bridge", "--allow_model_mismatch"})
                  .release();
    ASSERT_NE(sender_, nullptr);
    auto sender = SenderClient::Connect(dir_->Options("admin", sender_->port()));
    ASSERT_TRUE(sender.ok());
    lip::v1::EncodeRequest encode;
    encode.set_text(kText);
    auto encoded = (*sender)->Encode(encode);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    packet_ = new lip::v1::LipPacket(encoded->packet());
  }

  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
    delete packet_;
    sender_ = receiver_ = nullptr;
    packet_ = nullptr;
    if (dir_ != nullptr) dir_->Remove();
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (receiver_ == nullptr || packet_ == nullptr) GTEST_SKIP() << "nodes did not start";
  }

  static std::unique_ptr<ReceiverClient> ReceiverAs(const std::string& identity) {
    auto client = ReceiverClient::Connect(dir_->Options(identity, receiver_->port()));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // The good packet with `edit` applied to its metadata (the tensor and its checksum are intact).
  static lip::v1::LipPacket Edited(const std::function<void(lip::v1::LipPacket&)>& edit) {
    lip::v1::LipPacket packet = *packet_;
    edit(packet);
    return packet;
  }

  // A raw unary call with `bytes` as the request; the status and its reason.
  static std::pair<grpc::Status, std::string> RawCall(const std::string& method, const std::string& bytes) {
    auto channel = MakeClientChannel(dir_->Options("sender", receiver_->port()));
    EXPECT_TRUE(channel.ok());
    grpc::GenericStub stub(*channel);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = s;
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    std::string reason;
    auto trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find("lip-error-reason");
    if (it != trailers.end()) reason = std::string(it->second.data(), it->second.size());
    return {status, reason};
  }

  static testing::NodeTestDir* dir_;
  static NodeProcess* receiver_;
  static NodeProcess* sender_;
  static lip::v1::LipPacket* packet_;
};
testing::NodeTestDir* ReceiverHardeningTest::dir_ = nullptr;
NodeProcess* ReceiverHardeningTest::receiver_ = nullptr;
NodeProcess* ReceiverHardeningTest::sender_ = nullptr;
lip::v1::LipPacket* ReceiverHardeningTest::packet_ = nullptr;

TEST_F(ReceiverHardeningTest, PipelineFailuresAreCleanErrorsAndTheReceiverSurvives) {
  auto client = ReceiverAs("sender");
  ASSERT_NE(client, nullptr);
  // Each passes the codec and fails in the pipeline: the path that freed its own status.
  const std::vector<lip::v1::LipPacket> failing = {
      Edited([](lip::v1::LipPacket& p) {  // a generation longer than the receiver model's positions
        p.mutable_task()->mutable_generate()->set_max_new_tokens(1000);
      }),
      Edited([](lip::v1::LipPacket& p) {  // 300 words of anchor: over the priming-token cap
        std::string anchor;
        for (int i = 0; i < 300; ++i) absl::StrAppend(&anchor, " word", i);
        p.mutable_priming()->set_anchor(anchor);
      }),
      Edited([](lip::v1::LipPacket& p) {
        auto* classify = p.mutable_task()->mutable_classify();
        classify->clear_labels();
        for (int i = 0; i < 300; ++i) classify->add_labels(absl::StrCat(" label number ", i));
      }),
  };
  for (int round = 0; round < 10; ++round) {
    for (const lip::v1::LipPacket& packet : failing) {
      auto answer = client->SendLatent(packet);
      ASSERT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << answer.status();
      EXPECT_EQ(ErrorReasonOf(answer.status()), "LIMIT_EXCEEDED") << answer.status();
      EXPECT_TRUE(PrintableMessage(answer.status())) << answer.status();
      EXPECT_NE(answer.status().message().find("limit"), std::string::npos) << answer.status();
    }
  }
  ASSERT_TRUE(StillRunning(*receiver_));
  auto good = client->SendLatent(*packet_);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(good->has_classification());

  // Through the sender, as `lipctl node send --max-new-tokens 2000` did: a clean refusal.
  auto sender = SenderClient::Connect(dir_->Options("admin", sender_->port()));
  ASSERT_TRUE(sender.ok());
  lip::v1::SendRequest request;
  request.mutable_encode()->set_text(kText);
  request.mutable_encode()->mutable_task()->mutable_generate()->set_max_new_tokens(2000);
  request.set_receiver_address(absl::StrCat("127.0.0.1:", receiver_->port()));
  auto refused = (*sender)->Send(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_TRUE(PrintableMessage(refused.status())) << refused.status();
  EXPECT_TRUE(StillRunning(*receiver_));
}

TEST_F(ReceiverHardeningTest, PathologicalMessagesAreRefusedWhileOthersAreServed) {
  auto client = ReceiverAs("sender");
  ASSERT_NE(client, nullptr);
  const lip::v1::LipPacket huge_anchor =
      Edited([](lip::v1::LipPacket& p) { p.mutable_priming()->set_anchor(std::string(65000, 'a')); });
  const lip::v1::LipPacket many_labels = Edited([](lip::v1::LipPacket& p) {
    auto* classify = p.mutable_task()->mutable_classify();
    classify->clear_labels();
    for (int i = 0; i < 1024; ++i) classify->add_labels(absl::StrCat(" l", i));
  });
  std::atomic<int> good_ok{0}, good_failed{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int i = 0; i < 6; ++i) {
      for (const auto* bad : {&huge_anchor, &many_labels}) {
        auto answer = client->SendLatent(*bad);
        const bool limit = answer.status().code() == absl::StatusCode::kInvalidArgument &&
                           ErrorReasonOf(answer.status()) == "LIMIT_EXCEEDED";
        (limit ? refused : other)++;
      }
    }
  });
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 6; ++i) (client->SendLatent(*packet_).ok() ? good_ok : good_failed)++;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 12);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(good_ok.load(), 12);
  EXPECT_EQ(good_failed.load(), 0);
}

TEST_F(ReceiverHardeningTest, MalformedRequestBytesAreInvalidArgumentWithReason) {
  std::string valid;
  lip::v1::SendLatentRequest request;
  *request.mutable_packet() = *packet_;
  ASSERT_TRUE(request.SerializeToString(&valid));
  for (const std::string& bytes : {std::string("\xff\xff\xff\xff garbage", 13), valid.substr(0, valid.size() / 2),
                                   std::string("\x0a\xff\xff\xff\xff\x0f", 6)}) {
    auto [status, reason] = RawCall("/lip.v1.LatentReceiver/SendLatent", bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_EQ(reason, "MALFORMED");
    EXPECT_FALSE(status.error_message().empty());
    auto [text_status, text_reason] = RawCall("/lip.v1.LatentReceiver/SendText", bytes);
    EXPECT_EQ(text_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << text_status.error_message();
    EXPECT_EQ(text_reason, "MALFORMED");
  }
  // The same bytes, intact, are answered.
  auto [ok_status, ok_reason] = RawCall("/lip.v1.LatentReceiver/SendLatent", valid);
  EXPECT_TRUE(ok_status.ok()) << ok_status.error_message();
}

TEST_F(ReceiverHardeningTest, RequestsOverThePacketLimitAreRefusedByGrpc) {
  // A channel that would send anything: the receiver's own limit must refuse it.
  auto options = dir_->Options("sender", receiver_->port());
  auto credentials = MakeChannelCredentials(options.tls);
  ASSERT_TRUE(credentials.ok());
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(options.address, *credentials, args);
  ReceiverClient client(channel, options);
  lip::v1::LipPacket oversized = *packet_;
  oversized.mutable_tensor()->set_data(std::string(17u << 20, '\0'));
  auto answer = client.SendLatent(oversized);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kResourceExhausted) << answer.status();
  EXPECT_TRUE(StillRunning(*receiver_));
}

TEST_F(ReceiverHardeningTest, PacketForAnotherBridgeVersionIsRefused) {
  auto client = ReceiverAs("sender");
  ASSERT_NE(client, nullptr);
  auto answer = client->SendLatent(
      Edited([](lip::v1::LipPacket& p) { p.mutable_bridge()->set_version(p.bridge().version() + 1); }));
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition) << answer.status();
  EXPECT_EQ(ErrorReasonOf(answer.status()), "BRIDGE_MISMATCH");
}

TEST_F(ReceiverHardeningTest, RepeatedPacketIsAnsweredOnce) {
  auto client = ReceiverAs("sender");
  ASSERT_NE(client, nullptr);
  auto sender = SenderClient::Connect(dir_->Options("admin", sender_->port()));
  ASSERT_TRUE(sender.ok());
  lip::v1::EncodeRequest encode;
  encode.set_text("the film is strictly routine .");
  auto packet = (*sender)->Encode(encode);
  ASSERT_TRUE(packet.ok()) << packet.status();
  auto batches = [&] {
    auto text = testing::HttpGet(receiver_->metrics_port(), "/metrics");
    auto samples = testing::ParsePrometheusText(text.ok() ? *text : "");
    return samples.ok() ? testing::SumSamples(*samples, "lip_receiver_batch_size_count") : -1.0;
  };
  const double before = batches();
  auto first = client->SendLatent(packet->packet());
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = client->SendLatent(packet->packet());  // e.g. a retry after a lost connection
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), first->SerializeAsString());  // the same answer, timings too
  EXPECT_EQ(batches(), before + 1);                                   // and it ran once
}

TEST_F(ReceiverHardeningTest, EmptyTextIsAnswered) {
  auto client = ReceiverAs("sender");
  ASSERT_NE(client, nullptr);
  lip::v1::SendTextRequest request;  // a text relay whose sender wrote nothing
  auto answer = client->SendText(request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(answer->has_classification());
}

TEST_F(ReceiverHardeningTest, StreamsWaitInsteadOfBeingRefused) {
  // One message in the queue at a time: without flow control most stream messages were refused.
  auto small = dir_->Start(LIP_RECEIVER_BINARY, "receiver",
                           {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                            "--bridge_dir=" + dir_->root() + "/bridge", "--allow_model_mismatch",
                            "--max_batch_size=2", "--queue_limit=1", "--node_id=receiver-small"});
  ASSERT_NE(small, nullptr);
  auto client = ReceiverClient::Connect(dir_->Options("sender", small->port()));
  ASSERT_TRUE(client.ok());
  constexpr int kStreams = 6;
  constexpr int kMessages = 12;
  std::atomic<int> answered{0}, errors{0}, missing{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < kStreams; ++s) {
    threads.emplace_back([&, s] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      auto stream = (*client)->stub()->StreamLatents(&context);
      std::thread writer([&] {
        for (int i = 0; i < kMessages; ++i) {
          lip::v1::SendLatentRequest request;
          *request.mutable_packet() = *packet_;
          request.mutable_packet()->set_conversation_id(absl::StrCat("stream-", s));
          request.mutable_packet()->set_sequence(i);
          if (!stream->Write(request)) break;
        }
        stream->WritesDone();
      });
      std::set<uint64_t> seen;
      lip::v1::SendLatentResponse response;
      while (stream->Read(&response)) {
        seen.insert(response.sequence());
        if (response.has_error()) {
          ADD_FAILURE() << response.error().reason() << ": " << response.error().message();
          errors++;
        } else {
          answered++;
        }
      }
      writer.join();
      EXPECT_TRUE(stream->Finish().ok());
      missing += kMessages - static_cast<int>(seen.size());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), kStreams * kMessages);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(missing.load(), 0);

  // A malformed message inside a stream is a MessageError with its reason; the stream goes on.
  auto channel = MakeClientChannel(dir_->Options("sender", small->port()));
  ASSERT_TRUE(channel.ok());
  grpc::GenericStub stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/lip.v1.LatentReceiver/StreamLatents", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::string valid;
  lip::v1::SendLatentRequest request;
  *request.mutable_packet() = *packet_;
  request.mutable_packet()->set_sequence(7);
  ASSERT_TRUE(request.SerializeToString(&valid));
  for (const std::string& bytes : {std::string("\xff\xff not a request", 16), valid}) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  }
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<lip::v1::SendLatentResponse> responses;
  while (true) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, reinterpret_cast<void*>(4));
    if (!cq.Next(&tag, &ok) || !ok) break;
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(buffer.Dump(&slices).ok());
    std::string bytes;
    for (const auto& piece : slices) bytes.append(reinterpret_cast<const char*>(piece.begin()), piece.size());
    lip::v1::SendLatentResponse response;
    ASSERT_TRUE(response.ParseFromString(bytes));
    responses.push_back(response);
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), 2u);
  int malformed = 0, classified = 0;
  for (const auto& response : responses) {
    if (response.has_error() && response.error().reason() == "MALFORMED") malformed++;
    if (response.has_classification() && response.sequence() == 7) classified++;
  }
  EXPECT_EQ(malformed, 1);
  EXPECT_EQ(classified, 1);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  EXPECT_EQ(small->Terminate(), 0);
}

// Two receivers serve one bridge; one is killed with SIGKILL while the sender has traffic for
// both. The registry still lists it as alive for its liveness timeout, yet no message fails.
TEST(SenderFailoverTest, KillingOneOfTwoReceiversLosesNoMessage) {
  if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
  auto dir = testing::NodeTestDir::Create("lip-failover");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string root = dir->root();
  ASSERT_TRUE(testing::MakeRandomDemoBridge(root + "/bridge", kBridgeName).ok());
  auto registry = dir->Start(LIP_REGISTRY_BINARY, "registry", {"--data_dir=" + root + "/registry-data"});
  ASSERT_NE(registry, nullptr);
  const std::string registry_address = absl::StrCat("127.0.0.1:", registry->port());
  auto receiver_node = [&](const std::string& id) {
    return dir->Start(LIP_RECEIVER_BINARY, "receiver",
                      {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                       "--bridge_dir=" + root + "/bridge", "--allow_model_mismatch",
                       "--registry=" + registry_address, "--node_id=" + id});
  };
  auto first = receiver_node("receiver-a");
  auto second = receiver_node("receiver-b");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  auto sender = dir->Start(LIP_SENDER_BINARY, "sender",
                           {"--model_dir=" + std::string(testing::kDemoSenderModel),
                            "--bridge_dir=" + root + "/bridge", "--allow_model_mismatch",
                            "--registry=" + registry_address});
  ASSERT_NE(sender, nullptr);
  auto client = SenderClient::Connect(dir->Options("admin", sender->port()));
  ASSERT_TRUE(client.ok());
  lip::v1::SendRequest request;
  request.mutable_encode()->set_text(kText);
  // Both receivers registered and answering.
  std::set<std::string> used;
  for (int i = 0; i < 40 && used.size() < 2; ++i) {
    auto answer = (*client)->Send(request);
    if (answer.ok()) used.insert(answer->receiver_address());
    if (used.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(used.size(), 2u);

  first->Kill9();
  int ok = 0;
  std::map<std::string, int> failures;
  std::set<std::string> answered_by;
  for (int i = 0; i < 20; ++i) {
    auto answer = (*client)->Send(request);
    if (answer.ok()) {
      ok++;
      answered_by.insert(answer->receiver_address());
    } else {
      failures[answer.status().ToString()]++;
    }
  }
  EXPECT_EQ(ok, 20);
  for (const auto& [error, count] : failures) ADD_FAILURE() << count << " x " << error;
  EXPECT_EQ(answered_by, std::set<std::string>{absl::StrCat("127.0.0.1:", second->port())});

  auto metrics_text = testing::HttpGet(sender->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics_text.ok());
  auto samples = testing::ParsePrometheusText(*metrics_text);
  ASSERT_TRUE(samples.ok());
  EXPECT_GE(testing::SumSamples(*samples, "lip_sender_failovers_total"), 1);
  EXPECT_EQ(sender->Terminate(), 0);
  EXPECT_EQ(second->Terminate(), 0);
  dir->Remove();
}

}  // namespace
}  // namespace lip
