// A model node whose certificate names its node id (lip://node/<id>, made by make_certs.sh
// "name:role@id"): real lip-registry and lip-receiver processes over mutual TLS on 127.0.0.1
// (demo receiver model, a random bridge). What must hold:
//   - without --node_id the node takes the id its certificate names, and registers under it;
//   - with a --node_id its certificate does not name, it refuses to start (the registry would
//     refuse to register it) and says why.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/node/tls_credentials.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
using testing::NodeProcess;

TEST(NodeIdentityTest, ModelNodeUsesTheNodeIdItsCertificateNames) {
  if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
  const std::string root = testing::MakeTempDir("lip-node-identity");
  ASSERT_FALSE(root.empty());
  const std::string certs = root + "/certs";
  ASSERT_TRUE(testing::MakeCerts(certs, {"admin", "registry", "named:receiver@receiver-x"}).ok());
  ASSERT_TRUE(testing::MakeRandomDemoBridge(root + "/bridge", "identity-test-sst2").ok());
  auto tls = [&](const std::string& name) {
    return std::vector<std::string>{"--tls_cert=" + certs + "/" + name + ".crt",
                                    "--tls_key=" + certs + "/" + name + ".key",
                                    "--tls_ca=" + certs + "/ca.crt"};
  };
  std::vector<std::string> registry_args = {"--listen=127.0.0.1:0", "--metrics_listen=off",
                                            "--data_dir=" + root + "/registry-data"};
  for (const auto& flag : tls("registry")) registry_args.push_back(flag);
  auto registry = NodeProcess::Start(LIP_REGISTRY_BINARY, registry_args, root + "/registry.log");
  ASSERT_TRUE(registry.ok()) << registry.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*registry)->port());
  auto receiver_args = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0", "--metrics_listen=off",
                                     "--registry=" + address,
                                     "--model_dir=" + std::string(testing::kDemoReceiverModel),
                                     "--bridge_dir=" + root + "/bridge", "--allow_model_mismatch"};
    for (const auto& flag : tls("named")) args.push_back(flag);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  auto refused = NodeProcess::Start(LIP_RECEIVER_BINARY, receiver_args({"--node_id=receiver-y"}),
                                    root + "/refused.log", 120000);
  EXPECT_FALSE(refused.ok());
  auto log = ReadFileToString(root + "/refused.log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("is not named by certificate"), std::string::npos) << *log;

  auto receiver = NodeProcess::Start(LIP_RECEIVER_BINARY, receiver_args({}), root + "/receiver.log",
                                     120000);
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  EXPECT_EQ((*receiver)->listening().value("node_id", ""), "receiver-x");
  ClientOptions options;
  options.address = address;
  options.tls = {certs + "/admin.crt", certs + "/admin.key", certs + "/ca.crt"};
  auto admin = RegistryClient::Connect(options);
  ASSERT_TRUE(admin.ok()) << admin.status();
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) {
    auto nodes = (*admin)->ListNodes(lip::v1::NODE_ROLE_RECEIVER);
    listed = nodes.ok() && nodes->size() == 1 && (*nodes)[0].node_id() == "receiver-x" &&
             (*nodes)[0].alive();
    if (!listed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ((*receiver)->Terminate(), 0);
  if (!::testing::Test::HasFailure()) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
}

}  // namespace
}  // namespace lip
