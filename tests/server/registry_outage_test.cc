// A registry outage with real processes (registry, receiver, sender on the demo
// model pair, mutual TLS on 127.0.0.1). What must hold while the registry is
// down (kill -9) and after it comes back on the same address:
//   - the sender keeps answering Send without a receiver address: it resolves
//     the receiver from the last node list the registry gave it, and the
//     receiver serves with the bridge it already loaded;
//   - both nodes register again on their own once the registry is back (its
//     directory is in memory, so it starts empty), and messages sent meanwhile
//     are answered (the sender keeps the receiver the fresh registry forgot).
// deploy/chaos/registry_outage.sh is the 30-second version with a report;
// nothing here asserts a time.
#include <gtest/gtest.h>

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

constexpr char kBridgeName[] = "outage-test-sst2";
constexpr char kText[] = "a gorgeous , witty , seductive movie .";

// Polls `done` every 100 ms for at most a minute; true once it holds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Whether the registry lists `ids` all alive.
bool AllAlive(RegistryClient& registry, const std::vector<std::string>& ids) {
  auto nodes = registry.ListNodes();
  if (!nodes.ok()) return false;
  for (const auto& id : ids) {
    bool alive = false;
    for (const auto& node : *nodes) alive = alive || (node.node_id() == id && node.alive());
    if (!alive) return false;
  }
  return true;
}

TEST(RegistryOutageTest, NodesKeepServingAndRegisterAgain) {
  if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
  auto dir = testing::NodeTestDir::Create("lip-registry-outage");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string bridge = dir->root() + "/bridge";
  ASSERT_TRUE(testing::MakeRandomDemoBridge(bridge, kBridgeName).ok());
  const std::vector<std::string> registry_flags = {
      "--data_dir=" + dir->root() + "/registry-data", "--heartbeat_interval_ms=200",
      "--liveness_timeout_ms=1000"};
  auto registry = dir->Start(LIP_REGISTRY_BINARY, "registry", registry_flags);
  ASSERT_NE(registry, nullptr);
  const int port = registry->port();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto node_flags = [&](const char* model) {
    return std::vector<std::string>{"--model_dir=" + std::string(model), "--bridge_dir=" + bridge,
                                    "--allow_model_mismatch", "--registry=" + address};
  };
  auto receiver = dir->Start(LIP_RECEIVER_BINARY, "receiver", node_flags(testing::kDemoReceiverModel));
  ASSERT_NE(receiver, nullptr);
  auto sender = dir->Start(LIP_SENDER_BINARY, "sender", node_flags(testing::kDemoSenderModel));
  ASSERT_NE(sender, nullptr);

  auto admin = RegistryClient::Connect(dir->Options("admin", port));
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE(Eventually([&] { return AllAlive(**admin, {"receiver-1", "sender-1"}); }));
  auto client = SenderClient::Connect(dir->Options("admin", sender->port()));
  ASSERT_TRUE(client.ok()) << client.status();
  lip::v1::SendRequest request;  // no receiver_address: resolved through the registry
  request.mutable_encode()->set_text(kText);
  auto before = (*client)->Send(request);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(before->answer().has_classification());

  // The outage: every message is still answered, with the same classification.
  registry->Kill9();
  int sent = 0, answered = 0;
  for (int i = 0; i < 10; ++i) {
    auto during = (*client)->Send(request);
    ++sent;
    if (during.ok() && during->answer().classification().label() ==
                           before->answer().classification().label()) {
      ++answered;
    } else {
      ADD_FAILURE() << "message " << i << " during the outage: "
                    << (during.ok() ? during->answer().DebugString() : during.status().ToString());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(answered, sent);

  // Back on the same address, with an empty directory: both nodes register again.
  std::vector<std::string> restart_flags = registry_flags;
  restart_flags.push_back("--listen=" + address);
  registry = dir->Start(LIP_REGISTRY_BINARY, "registry", restart_flags);
  ASSERT_NE(registry, nullptr);
  auto fresh = RegistryClient::Connect(dir->Options("admin", port));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  // Messages sent while the nodes register again (the fresh registry does not know the
  // receiver yet) are answered too.
  int failed_while_returning = 0;
  EXPECT_TRUE(Eventually([&] {
    auto returning = (*client)->Send(request);
    if (!returning.ok()) {
      ++failed_while_returning;
      ADD_FAILURE() << "message while the nodes register again: " << returning.status();
    }
    return AllAlive(**fresh, {"receiver-1", "sender-1"});
  }));
  EXPECT_EQ(failed_while_returning, 0);
  auto after = (*client)->Send(request);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->answer().classification().label(), before->answer().classification().label());

  EXPECT_EQ(sender->Terminate(), 0);
  EXPECT_EQ(receiver->Terminate(), 0);
  if (!::testing::Test::HasFailure()) dir->Remove();
}

}  // namespace
}  // namespace lip
