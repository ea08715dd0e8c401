// NodeDirectory's node identity rules in process (registry_node_test checks them through the real
// registry with certificates): who may register, heartbeat and leave which node id.
#include "server/registry/node_directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

namespace lip {
namespace {

lip::v1::NodeInfo Node(const std::string& id, const std::string& address) {
  lip::v1::NodeInfo node;
  node.set_node_id(id);
  node.set_role(lip::v1::NODE_ROLE_RECEIVER);
  node.set_address(address);
  return node;
}

NodeClaimant ByName(const std::string& cn) {
  NodeClaimant claimant;
  claimant.certificate_name = cn;
  claimant.description = cn;
  return claimant;
}

NodeClaimant Named() {
  NodeClaimant claimant;
  claimant.named_in_certificate = true;
  claimant.description = "named";
  return claimant;
}

NodeClaimant Admin() {
  NodeClaimant claimant;
  claimant.admin = true;
  claimant.description = "admin";
  return claimant;
}

std::string AddressOf(const NodeDirectory& directory, const std::string& id) {
  for (const auto& node : directory.List(lip::v1::NODE_ROLE_UNSPECIFIED, absl::Now())) {
    if (node.node_id() == id) return node.address();
  }
  return "";
}

TEST(NodeDirectoryTest, FirstRegistrationBindsByCertificateName) {
  NodeDirectory directory;
  const absl::Time now = absl::Now();
  ASSERT_TRUE(directory.Register(Node("r1", "a:1"), now, ByName("cn-a")).ok());
  EXPECT_EQ(directory.Register(Node("r1", "b:1"), now, ByName("cn-b")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(directory.Heartbeat("r1", now, ByName("cn-b")).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(directory.Leave("r1", ByName("cn-b")).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AddressOf(directory, "r1"), "a:1");
  EXPECT_TRUE(directory.Register(Node("r1", "a:2"), now, ByName("cn-a")).ok());
  EXPECT_TRUE(directory.Heartbeat("r1", now, ByName("cn-a")).ok());
  EXPECT_EQ(directory.Heartbeat("r2", now, ByName("cn-a")).code(), absl::StatusCode::kNotFound);
  // A certificate without a CN cannot be bound, so it may not register unnamed ids.
  EXPECT_EQ(directory.Register(Node("r3", "c:1"), now, ByName("")).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(NodeDirectoryTest, NamedCertificatesAndAdmins) {
  NodeDirectory directory;
  const absl::Time now = absl::Now();
  ASSERT_TRUE(directory.Register(Node("r1", "a:1"), now, ByName("cn-a")).ok());
  // A certificate naming the id outranks a binding by name, and closes the id to unnamed ones.
  ASSERT_TRUE(directory.Register(Node("r1", "n:1"), now, Named()).ok());
  EXPECT_EQ(directory.Heartbeat("r1", now, ByName("cn-a")).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(directory.Heartbeat("r1", now, Named()).ok());
  // An admin acts for anyone and keeps the binding as it was.
  ASSERT_TRUE(directory.Register(Node("r2", "x:1"), now, ByName("cn-x")).ok());
  EXPECT_TRUE(directory.Register(Node("r2", "admin:1"), now, Admin()).ok());
  EXPECT_TRUE(directory.Leave("r2", Admin()).ok());
  EXPECT_TRUE(directory.Heartbeat("r2", now, ByName("cn-x")).ok());
  EXPECT_EQ(directory.Heartbeat("r2", now, ByName("cn-y")).code(), absl::StatusCode::kPermissionDenied);
  // An id an admin registered first is bound by the first certificate that registers it.
  ASSERT_TRUE(directory.Register(Node("r3", "admin:3"), now, Admin()).ok());
  EXPECT_TRUE(directory.Register(Node("r3", "y:3"), now, ByName("cn-y")).ok());
  EXPECT_EQ(directory.Register(Node("r3", "z:3"), now, ByName("cn-z")).code(),
            absl::StatusCode::kPermissionDenied);
}

// Two certificates racing for a fresh id: exactly one wins, and the entry is the winner's.
TEST(NodeDirectoryTest, RacingFirstRegistrationsHaveOneWinner) {
  for (int round = 0; round < 20; ++round) {
    NodeDirectory directory;
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        const std::string cn = "cn-" + std::to_string(t);
        if (directory.Register(Node("fresh", cn), absl::Now(), ByName(cn)).ok()) ++wins;
      });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(wins.load(), 1);
    const std::string winner = AddressOf(directory, "fresh");
    EXPECT_TRUE(directory.Heartbeat("fresh", absl::Now(), ByName(winner)).ok());
  }
}

}  // namespace
}  // namespace lip
