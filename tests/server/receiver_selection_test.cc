// ReceiversServingBridge: a sender sends only to alive receivers of the bridge's
// receiver model that serve the same bridge (server/receiver_selection.h).
#include "server/receiver_selection.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

lip::v1::BridgeId Bridge(const std::string& name, uint32_t version, const std::string& digest) {
  lip::v1::BridgeId id;
  id.set_name(name);
  id.set_version(version);
  id.set_digest(digest);
  return id;
}

lip::v1::NodeInfo Receiver(const std::string& id, const std::string& model, const lip::v1::BridgeId& bridge,
                           bool alive = true) {
  lip::v1::NodeInfo node;
  node.set_node_id(id);
  node.set_role(lip::v1::NODE_ROLE_RECEIVER);
  node.set_address(id + ":1");
  node.mutable_model()->set_name(model);
  *node.add_bridges() = bridge;
  node.set_alive(alive);
  return node;
}

std::vector<std::string> Ids(const std::vector<lip::v1::NodeInfo>& nodes) {
  std::vector<std::string> ids;
  for (const auto& n : nodes) ids.push_back(n.node_id());
  return ids;
}

TEST(SameBridgeTest, NeedsNameAndVersionAndTheDigestWhereBothHaveOne) {
  EXPECT_TRUE(SameBridge(Bridge("a", 1, "sha256:1"), Bridge("a", 1, "sha256:1")));
  EXPECT_TRUE(SameBridge(Bridge("a", 1, ""), Bridge("a", 1, "sha256:1")));
  EXPECT_FALSE(SameBridge(Bridge("a", 1, "sha256:1"), Bridge("a", 1, "sha256:2")));
  EXPECT_FALSE(SameBridge(Bridge("a", 1, "sha256:1"), Bridge("a", 2, "sha256:1")));
  EXPECT_FALSE(SameBridge(Bridge("a", 1, "sha256:1"), Bridge("b", 1, "sha256:1")));
}

TEST(ReceiversServingBridgeTest, KeepsOnlyAliveReceiversOfTheModelThatServeTheBridge) {
  const auto sst2 = Bridge("demo-sst2", 1, "sha256:s");
  const auto ag_news = Bridge("demo-ag_news", 1, "sha256:a");
  std::vector<lip::v1::NodeInfo> nodes = {
      Receiver("ag_news-receiver", "qwen", ag_news),          // same model, other bridge
      Receiver("sst2-old", "qwen", Bridge("demo-sst2", 1, "sha256:old")),  // other checkpoint
      Receiver("sst2-dead", "qwen", sst2, /*alive=*/false),
      Receiver("sst2-llama", "llama", sst2),                  // other model
      Receiver("sst2-a", "qwen", sst2),
      Receiver("sst2-b", "qwen", sst2),
  };
  nodes[0].add_bridges()->CopyFrom(Bridge("unrelated", 3, ""));
  auto chosen = ReceiversServingBridge(nodes, "qwen", sst2);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(Ids(*chosen), (std::vector<std::string>{"sst2-a", "sst2-b"}));

  // A receiver serving several bridges qualifies for each of them.
  nodes[0].add_bridges()->CopyFrom(sst2);
  chosen = ReceiversServingBridge(nodes, "qwen", sst2);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(Ids(*chosen), (std::vector<std::string>{"ag_news-receiver", "sst2-a", "sst2-b"}));
}

TEST(ReceiversServingBridgeTest, ExplainsWhyNoReceiverQualifies) {
  const auto sst2 = Bridge("demo-sst2", 1, "sha256:s");
  auto none = ReceiversServingBridge({Receiver("r", "qwen", sst2, /*alive=*/false)}, "qwen", sst2);
  ASSERT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(none.status().message()).find("no alive receiver with model \"qwen\""), std::string::npos)
      << none.status();

  auto other = ReceiversServingBridge({Receiver("r", "qwen", Bridge("demo-ag_news", 2, ""))}, "qwen", sst2);
  ASSERT_EQ(other.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(other.status().message());
  EXPECT_NE(message.find("serves bridge demo-sst2 v1"), std::string::npos) << message;
  EXPECT_NE(message.find("r: demo-ag_news v2"), std::string::npos) << message;
}

}  // namespace
}  // namespace lip
