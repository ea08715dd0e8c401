// Deadlines, cancellation and graceful shutdown of real lip-receiver and
// lip-sender processes over mutual TLS on 127.0.0.1 (demo model pair, a random
// bridge). What must hold:
//   - a call whose deadline cannot be met ends DEADLINE_EXCEEDED, its job never
//     runs, and the receiver answers the next calls exactly as before;
//   - a call the client cancels ends CANCELLED, its job never runs (queued) or
//     its answer is dropped (running), and no later answer carries it;
//   - a sender's caller deadline reaches the receiver (the receiver stops
//     waiting on it too);
//   - SIGTERM drains: every accepted call gets a complete OK answer, calls made
//     after the shutdown began are refused UNAVAILABLE, and the process exits 0.
// Slow work is a long generation on the receiver; nothing here asserts a time.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
using testing::NodeProcess;

constexpr char kBridgeName[] = "lifecycle-test-sst2";
constexpr char kReceiverService[] = "lip.v1.LatentReceiver";
constexpr char kSenderService[] = "lip.v1.Sender";
constexpr char kText[] = "a gorgeous , witty , seductive movie .";
constexpr char kOtherText[] = "the film is strictly routine .";
// Long enough that a generation is still running while the test acts on it.
constexpr int kSlowTokens = 128;

// Polls `done` every 10 ms for at most a minute; true once it holds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// One number from a node's /metrics (sum over the samples matching `labels`); -1 when unreadable.
double Metric(const NodeProcess& node, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  auto text = testing::HttpGet(node.metrics_port(), "/metrics");
  if (!text.ok()) return -1;
  auto samples = testing::ParsePrometheusText(*text);
  if (!samples.ok()) return -1;
  return testing::SumSamples(*samples, name, labels);
}

double InFlight(const NodeProcess& node, const char* service, const char* method) {
  return Metric(node, "lip_rpc_in_flight", {{"service", service}, {"method", method}});
}

double ReceiverMessages(const NodeProcess& receiver, const char* code) {
  return Metric(receiver, "lip_receiver_messages_total", {{"rpc", "SendLatent"}, {"code", code}});
}

// Pipeline calls the receiver's batcher made (one per batch).
double Batches(const NodeProcess& receiver) { return Metric(receiver, "lip_receiver_batch_size_count"); }

// After SIGTERM: a cheap call that is answered INVALID_ARGUMENT at once when the node
// accepts it, repeated every 10 ms until it is refused UNAVAILABLE or the `calls` accepted
// slow calls have all `finished`.
struct ProbeCounts {
  int refused_while_draining = 0;  // UNAVAILABLE while accepted calls were still running
  int other = 0;                   // anything but INVALID_ARGUMENT / UNAVAILABLE
};
ProbeCounts ProbeWhileDraining(const std::function<absl::StatusCode()>& probe,
                               const std::atomic<int>& finished, int calls) {
  ProbeCounts counts;
  for (int i = 0; i < 6000 && counts.refused_while_draining == 0 && finished.load() < calls; ++i) {
    const absl::StatusCode code = probe();
    if (code == absl::StatusCode::kUnavailable) {
      if (finished.load() < calls) ++counts.refused_while_draining;
    } else if (code != absl::StatusCode::kInvalidArgument) {
      ++counts.other;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return counts;
}

class NodesLifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-nodes-lifecycle");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    ASSERT_TRUE(testing::MakeRandomDemoBridge(BridgeDir(), kBridgeName).ok());
    // One message per pipeline call, so a queued job waits for the running one.
    receiver_ = StartReceiver({"--max_batch_size=1", "--max_batch_wait_ms=0"}).release();
    ASSERT_NE(receiver_, nullptr);
    sender_ = StartSender().release();
    ASSERT_NE(sender_, nullptr);
  }

  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
    sender_ = receiver_ = nullptr;
    if (dir_ != nullptr) dir_->Remove();
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (receiver_ == nullptr || sender_ == nullptr) GTEST_SKIP() << "nodes did not start";
  }

  static std::string BridgeDir() { return dir_->root() + "/bridge"; }

  static std::unique_ptr<NodeProcess> StartReceiver(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                               "--bridge_dir=" + BridgeDir(), "--allow_model_mismatch",
                               "--shutdown_grace_ms=300000"});
    return dir_->Start(LIP_RECEIVER_BINARY, "receiver", extra);
  }
  static std::unique_ptr<NodeProcess> StartSender(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--model_dir=" + std::string(testing::kDemoSenderModel),
                               "--bridge_dir=" + BridgeDir(), "--allow_model_mismatch",
                               "--shutdown_grace_ms=300000"});
    return dir_->Start(LIP_SENDER_BINARY, "sender", extra);
  }

  static std::unique_ptr<ReceiverClient> ReceiverClientFor(const NodeProcess& receiver) {
    auto client = ReceiverClient::Connect(dir_->Options("sender", receiver.port()));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  static std::unique_ptr<SenderClient> SenderClientFor(const NodeProcess& sender) {
    auto client = SenderClient::Connect(dir_->Options("admin", sender.port()));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // A packet from the sender node: classification, or a generation of `max_new_tokens`.
  static lip::v1::LipPacket Packet(const std::string& text, int max_new_tokens = 0) {
    lip::v1::EncodeRequest request;
    request.set_text(text);
    if (max_new_tokens > 0) request.mutable_task()->mutable_generate()->set_max_new_tokens(max_new_tokens);
    auto encoded = SenderClientFor(*sender_)->Encode(request);
    EXPECT_TRUE(encoded.ok()) << encoded.status();
    return encoded.ok() ? encoded->packet() : lip::v1::LipPacket();
  }

  // SendLatent with an explicit context (deadline, cancellation).
  static grpc::Status CallReceiver(ReceiverClient& client, grpc::ClientContext& context,
                                   const lip::v1::LipPacket& packet, lip::v1::SendLatentResponse* response) {
    lip::v1::SendLatentRequest request;
    *request.mutable_packet() = packet;
    return client.stub()->SendLatent(&context, request, response);
  }

  static void ExpectSameClassification(const lip::v1::SendLatentResponse& a,
                                       const lip::v1::SendLatentResponse& b) {
    ASSERT_TRUE(a.has_classification() && b.has_classification());
    EXPECT_EQ(a.classification().label(), b.classification().label());
    ASSERT_EQ(a.classification().log_probs_size(), b.classification().log_probs_size());
    for (int i = 0; i < a.classification().log_probs_size(); ++i) {
      EXPECT_NEAR(a.classification().log_probs(i), b.classification().log_probs(i), 1e-5);
    }
  }

  static void ExpectCompleteGeneration(const lip::v1::SendLatentResponse& answer) {
    ASSERT_TRUE(answer.has_generation());
    EXPECT_FALSE(answer.generation().token_ids().empty());
    EXPECT_FALSE(answer.generation().stop_reason().empty());
  }

  // Runs a slow generation on `receiver` in the background; returns once the receiver
  // is handling it (its in-flight gauge shows `expected_in_flight`).
  static std::thread StartSlowCall(const NodeProcess& receiver, ReceiverClient& client,
                                   const lip::v1::LipPacket& slow, double expected_in_flight,
                                   std::atomic<int>* ok) {
    std::thread thread([&client, slow, ok] {
      auto answer = client.SendLatent(slow);
      if (answer.ok() && answer->has_generation() && !answer->generation().token_ids().empty()) ++*ok;
    });
    EXPECT_TRUE(Eventually([&] {
      return InFlight(receiver, kReceiverService, "SendLatent") >= expected_in_flight;
    }));
    return thread;
  }

  static testing::NodeTestDir* dir_;
  static NodeProcess* receiver_;
  static NodeProcess* sender_;
};
testing::NodeTestDir* NodesLifecycleTest::dir_ = nullptr;
NodeProcess* NodesLifecycleTest::receiver_ = nullptr;
NodeProcess* NodesLifecycleTest::sender_ = nullptr;

TEST_F(NodesLifecycleTest, DeadlineThatCannotBeMetIsDeadlineExceededAndServingGoesOn) {
  auto client = ReceiverClientFor(*receiver_);
  const lip::v1::LipPacket packet = Packet(kText);
  auto baseline = client->SendLatent(packet);
  ASSERT_TRUE(baseline.ok()) << baseline.status();

  // 1 ms: over before the receiver can answer. (Fresh packets: a repeat of `packet` would be
  // answered at once from the receiver's recent answers.)
  {
    const lip::v1::LipPacket fresh = Packet(kText);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
    lip::v1::SendLatentResponse response;
    EXPECT_EQ(CallReceiver(*client, context, fresh, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  // Saturated: the batcher is busy with a long generation, the call waits in the queue
  // past its deadline, and the batcher skips it.
  const double batches_before = Batches(*receiver_);
  const double exceeded_before = ReceiverMessages(*receiver_, "DEADLINE_EXCEEDED");
  std::atomic<int> slow_ok{0};
  // Three times the usual slow generation (~1.5 s on an idle CI machine), so the wait outlasts the
  // 300 ms deadline on a fast machine too.
  std::thread slow = StartSlowCall(*receiver_, *client, Packet(kOtherText, 3 * kSlowTokens), 1, &slow_ok);
  {
    grpc::ClientContext context;
    const lip::v1::LipPacket waiting = Packet(kText);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    lip::v1::SendLatentResponse response;
    EXPECT_EQ(CallReceiver(*client, context, waiting, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  slow.join();
  EXPECT_EQ(slow_ok.load(), 1);
  EXPECT_TRUE(Eventually([&] {
    return ReceiverMessages(*receiver_, "DEADLINE_EXCEEDED") >= exceeded_before + 1;
  }));

  // The receiver answers the same text exactly as before, and the expired job never ran. (A fresh
  // packet: the receiver answers a repeated packet_id from its recent answers without running it.)
  const lip::v1::LipPacket again = Packet(kText);
  auto after = client->SendLatent(again);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->packet_id(), again.packet_id());
  ExpectSameClassification(*after, *baseline);
  EXPECT_EQ(Batches(*receiver_), batches_before + 2);  // the slow call and `after` only
  EXPECT_EQ(InFlight(*receiver_, kReceiverService, "SendLatent"), 0);
}

TEST_F(NodesLifecycleTest, CancelledCallIsDroppedAndNeverLeaksIntoALaterAnswer) {
  auto client = ReceiverClientFor(*receiver_);
  const lip::v1::LipPacket packet = Packet(kText);
  auto baseline = client->SendLatent(packet);
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  const lip::v1::LipPacket victim_packet = Packet(kOtherText, kSlowTokens);

  // Cancel a call waiting in the queue behind a running generation: it must never run.
  const double batches_before = Batches(*receiver_);
  const double cancelled_before = ReceiverMessages(*receiver_, "CANCELLED");
  std::atomic<int> slow_ok{0};
  std::thread slow = StartSlowCall(*receiver_, *client, Packet(kText, kSlowTokens), 1, &slow_ok);
  grpc::ClientContext victim_context;
  grpc::Status victim_status;
  std::thread victim([&] {
    lip::v1::SendLatentResponse response;
    victim_status = CallReceiver(*client, victim_context, victim_packet, &response);
  });
  ASSERT_TRUE(Eventually([&] { return InFlight(*receiver_, kReceiverService, "SendLatent") >= 2; }));
  victim_context.TryCancel();
  victim.join();
  EXPECT_EQ(victim_status.error_code(), grpc::StatusCode::CANCELLED);
  slow.join();
  EXPECT_EQ(slow_ok.load(), 1);
  EXPECT_TRUE(Eventually([&] { return ReceiverMessages(*receiver_, "CANCELLED") >= cancelled_before + 1; }));
  EXPECT_EQ(Batches(*receiver_), batches_before + 1);  // only the slow call ran

  // Cancel a call while its generation runs: the answer is dropped.
  grpc::ClientContext running_context;
  grpc::Status running_status;
  std::thread running([&] {
    lip::v1::SendLatentResponse response;
    running_status = CallReceiver(*client, running_context, victim_packet, &response);
  });
  ASSERT_TRUE(Eventually([&] { return Batches(*receiver_) >= batches_before + 2; }));  // it runs
  running_context.TryCancel();
  running.join();
  EXPECT_EQ(running_status.error_code(), grpc::StatusCode::CANCELLED);

  // The next calls get their own answers: their packet ids, the same result as before.
  for (int i = 0; i < 2; ++i) {
    const lip::v1::LipPacket again = Packet(kText);
    auto after = client->SendLatent(again);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->packet_id(), again.packet_id());
    ExpectSameClassification(*after, *baseline);
  }
  EXPECT_TRUE(Eventually([&] { return InFlight(*receiver_, kReceiverService, "SendLatent") == 0; }));
}

TEST_F(NodesLifecycleTest, SenderPassesItsCallersDeadlineToTheReceiver) {
  auto sender = SenderClientFor(*sender_);
  const double ok_before = ReceiverMessages(*receiver_, "OK");
  lip::v1::SendRequest request;
  request.set_receiver_address(absl::StrCat("127.0.0.1:", receiver_->port()));
  request.mutable_encode()->set_text(kText);
  // A generation several times longer than the deadline on any machine the tests run on (128 tokens
  // of the demo receiver took ~0.5 s on an idle 2-core CI machine, as long as the deadline this test
  // first had; 384 stay within its 512 positions); the deadline still leaves the sender time to
  // encode and reach the receiver.
  request.mutable_encode()->mutable_task()->mutable_generate()->set_max_new_tokens(3 * kSlowTokens);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  lip::v1::SendResponse response;
  EXPECT_EQ(sender->stub()->Send(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The receiver's call ended with the sender's (not after the generation's answer was sent).
  EXPECT_TRUE(Eventually([&] { return InFlight(*receiver_, kReceiverService, "SendLatent") == 0; }));
  EXPECT_EQ(ReceiverMessages(*receiver_, "OK"), ok_before);
  EXPECT_TRUE(Eventually([&] { return InFlight(*sender_, kSenderService, "Send") == 0; }));

  // And the pair keeps serving.
  lip::v1::SendRequest classify;
  classify.set_receiver_address(request.receiver_address());
  classify.mutable_encode()->set_text(kText);
  auto answer = sender->Send(classify);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(answer->answer().has_classification());
}

TEST_F(NodesLifecycleTest, IdleReceiverRunsALoneMessageWithoutWaitingForABatchToFill) {
  // A batch window of an hour, far past the calls' 60 s deadline: on an idle receiver a lone message
  // must run at once instead of waiting for company (the window applies only under concurrent load).
  auto node = StartReceiver({"--max_batch_size=8", "--max_batch_wait_ms=3600000", "--node_id=receiver-idle"});
  ASSERT_NE(node, nullptr);
  auto client = ReceiverClientFor(*node);
  for (int i = 0; i < 3; ++i) {
    auto answer = client->SendLatent(Packet(kText));  // fresh packets: no recent-answer replay
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_TRUE(answer->has_classification());
  }
  EXPECT_EQ(node->Terminate(60000), 0);
}

TEST_F(NodesLifecycleTest, ReceiverSigtermDrainsAcceptedCallsAndRefusesNewOnes) {
  auto node = StartReceiver({"--max_batch_size=2", "--max_batch_wait_ms=0", "--node_id=receiver-drain"});
  ASSERT_NE(node, nullptr);
  auto client = ReceiverClientFor(*node);
  const lip::v1::LipPacket slow_packet = Packet(kText, kSlowTokens);
  lip::v1::LipPacket bad = Packet(kText);
  bad.mutable_tensor()->set_crc32c(bad.tensor().crc32c() ^ 1);  // answered at once when accepted

  constexpr int kCalls = 3;
  std::atomic<int> finished{0};
  std::vector<absl::StatusOr<lip::v1::SendLatentResponse>> answers(kCalls, absl::UnknownError("not run"));
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      answers[i] = client->SendLatent(slow_packet);
      ++finished;
    });
  }
  ASSERT_TRUE(Eventually([&] { return InFlight(*node, kReceiverService, "SendLatent") >= kCalls; }));
  ASSERT_EQ(kill(node->pid(), SIGTERM), 0);

  // New calls: accepted ones (before the listener closed) are answered at once
  // (INVALID_ARGUMENT for the bad packet); once shutdown has begun, UNAVAILABLE.
  auto probe_client = ReceiverClientFor(*node);
  const ProbeCounts probes =
      ProbeWhileDraining([&] { return probe_client->SendLatent(bad).status().code(); }, finished, kCalls);
  for (auto& call : calls) call.join();
  EXPECT_EQ(probes.refused_while_draining, 1);
  EXPECT_EQ(probes.other, 0);
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    ExpectCompleteGeneration(*answer);
  }
  EXPECT_EQ(node->Terminate(60000), 0);
  EXPECT_EQ(probe_client->SendLatent(bad).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(NodesLifecycleTest, SenderSigtermDrainsAcceptedSendsAndRefusesNewOnes) {
  auto node = StartSender({"--node_id=sender-drain"});
  ASSERT_NE(node, nullptr);
  auto client = SenderClientFor(*node);
  lip::v1::SendRequest slow;
  slow.set_receiver_address(absl::StrCat("127.0.0.1:", receiver_->port()));
  slow.mutable_encode()->set_text(kText);
  slow.mutable_encode()->mutable_task()->mutable_generate()->set_max_new_tokens(kSlowTokens);

  constexpr int kCalls = 2;
  std::atomic<int> finished{0};
  std::vector<absl::StatusOr<lip::v1::SendResponse>> answers(kCalls, absl::UnknownError("not run"));
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      answers[i] = client->Send(slow);
      ++finished;
    });
  }
  ASSERT_TRUE(Eventually([&] { return InFlight(*node, kSenderService, "Send") >= kCalls; }));
  ASSERT_EQ(kill(node->pid(), SIGTERM), 0);

  // An empty Encode is answered INVALID_ARGUMENT at once when accepted.
  auto probe_client = SenderClientFor(*node);
  const ProbeCounts probes = ProbeWhileDraining(
      [&] { return probe_client->Encode(lip::v1::EncodeRequest()).status().code(); }, finished, kCalls);
  for (auto& call : calls) call.join();
  EXPECT_EQ(probes.refused_while_draining, 1);
  EXPECT_EQ(probes.other, 0);
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    ExpectCompleteGeneration(answer->answer());
  }
  EXPECT_EQ(node->Terminate(60000), 0);
}

}  // namespace
}  // namespace lip
