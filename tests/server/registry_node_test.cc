// End-to-end tests of the registry node: the real lip-registry binary on
// 127.0.0.1 with mutual TLS and OS-chosen ports, driven through the client
// library (client/lip_client.h) and raw stubs.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/health_check.h"
#include "client/lip_client.h"
#include "common/wire/sha256.h"
#include "common/node/tls_credentials.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
namespace fs = std::filesystem;
using testing::NodeProcess;

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadAll(const std::string& path) {
  auto text = ReadFileToString(path);
  return text.ok() ? *text : std::string("<unreadable>");
}

lip::v1::BridgeRecord Header(const std::string& name, const std::string& task) {
  lip::v1::BridgeRecord header;
  header.mutable_id()->set_name(name);
  header.mutable_sender_model()->set_name("lip-demo/sender-llama");
  header.mutable_receiver_model()->set_name("lip-demo/receiver-qwen");
  header.set_task(task);
  return header;
}

class RegistryNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("lip-registry-test");
    ASSERT_FALSE(root_.empty());
    certs_ = root_ + "/certs";
    // Per role: two certificates that name no node id (the registry binds them by CN) and
    // one that names its node id in the SAN (lip://node/<id>).
    ASSERT_TRUE(testing::MakeCerts(certs_, {"admin", "registry", "sender", "receiver", "nobody:none",
                                            "receiver-a:receiver", "receiver-b:receiver",
                                            "receiver-named:receiver@receiver-n",
                                            "sender-a:sender", "sender-b:sender",
                                            "sender-named:sender@sender-n",
                                            "registry-a:registry", "registry-b:registry",
                                            "registry-named:registry@registry-n",
                                            "--validity=expired", "expired-admin:admin",
                                            "expired-registry:registry",
                                            "--validity=future", "future-admin:admin",
                                            "future-registry:registry"}).ok());
    data_dir_ = root_ + "/data";
    StartRegistry();
  }

  void TearDown() override {
    registry_.reset();
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
    std::error_code ignored;
    if (!HasFailure()) fs::remove_all(root_, ignored);
  }

  // `launcher`: a command that runs the registry (e.g. prlimit with its options and "--").
  void StartRegistry(std::vector<std::string> extra = {}, std::vector<std::string> launcher = {}) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0", "--data_dir=" + data_dir_,
        "--tls_cert=" + certs_ + "/registry.crt", "--tls_key=" + certs_ + "/registry.key",
        "--tls_ca=" + certs_ + "/ca.crt", "--shutdown_grace_ms=5000"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string binary = LIP_REGISTRY_BINARY;
    if (!launcher.empty()) {
      args.insert(args.begin(), binary);
      args.insert(args.begin(), launcher.begin() + 1, launcher.end());
      binary = launcher.front();
    }
    auto process = NodeProcess::Start(binary, args, root_ + "/registry.log");
    ASSERT_TRUE(process.ok()) << process.status();
    registry_ = *std::move(process);
  }

  ClientOptions Options(const std::string& identity) const {
    ClientOptions options;
    options.address = absl::StrCat("127.0.0.1:", registry_->port());
    options.tls.cert_file = certs_ + "/" + identity + ".crt";
    options.tls.key_file = certs_ + "/" + identity + ".key";
    options.tls.ca_file = certs_ + "/ca.crt";
    options.timeout = absl::Seconds(20);
    options.upload_chunk_bytes = 256 << 10;
    return options;
  }

  std::unique_ptr<RegistryClient> Client(const std::string& identity) {
    auto client = RegistryClient::Connect(Options(identity));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // A checkpoint directory with three files, the big one spanning several chunks.
  std::string MakeBridgeDir(const std::string& name, uint32_t seed, size_t big = 700 << 10) {
    const std::string dir = root_ + "/src-" + name;
    fs::create_directories(dir);
    WriteFile(dir + "/bridge.json", absl::StrCat("{\"name\":\"", name, "\",\"seed\":", seed, "}"));
    WriteFile(dir + "/sender.safetensors", RandomBytes(big, seed));
    WriteFile(dir + "/receiver.safetensors", RandomBytes(big / 3 + 1, seed + 1));
    return dir;
  }

  // With storage that has room for about `room` more bytes: three acknowledged uploads, then
  // one of `too_big` bytes that must fail with RESOURCE_EXHAUSTED and leave nothing behind;
  // the acknowledged ones stay downloadable (also after a restart without the limit) and a
  // small upload works again.
  void ExpectFullStorageLosesNothing(size_t too_big, std::vector<std::string> restart_launcher);

  // A client presenting `identity` from `cert_dir` and trusting `ca_file`, made without the
  // client library's own checks of those files (as an attacker, or a misconfigured peer, would).
  std::unique_ptr<RegistryClient> RawClient(const std::string& cert_dir, const std::string& identity,
                                            const std::string& ca_file) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(ca_file);
    ssl.pem_cert_chain = ReadAll(cert_dir + "/" + identity + ".crt");
    ssl.pem_private_key = ReadAll(cert_dir + "/" + identity + ".key");
    ClientOptions options = Options("admin");
    options.timeout = absl::Seconds(5);
    auto channel = grpc::CreateChannel(options.address, grpc::SslCredentials(ssl));
    return std::make_unique<RegistryClient>(channel, options);
  }

  std::string root_, certs_, data_dir_;
  std::string mounted_;  // a tmpfs mounted at data_dir_, unmounted by TearDown
  std::unique_ptr<NodeProcess> registry_;
};

void RegistryNodeTest::ExpectFullStorageLosesNothing(size_t too_big,
                                                     std::vector<std::string> restart_launcher) {
  auto admin = Client("admin");
  std::vector<std::pair<lip::v1::BridgeRecord, std::string>> acknowledged;
  for (int i = 0; i < 3; ++i) {
    const std::string dir = MakeBridgeDir(absl::StrCat("fit", i), 20 + i, 200 << 10);
    auto record = admin->UploadBridgeDirectory(dir, Header("full", "sst2"));
    ASSERT_TRUE(record.ok()) << record.status();
    acknowledged.emplace_back(*record, dir);
  }
  const std::string big_dir = MakeBridgeDir("too-big", 30, too_big);
  auto refused = admin->UploadBridgeDirectory(big_dir, Header("full", "sst2"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("full"), absl::string_view::npos) << refused.status();
  EXPECT_TRUE(fs::is_empty(data_dir_ + "/tmp"));  // the failed upload left nothing

  auto check = [&](RegistryClient& reader, const std::string& tag) {
    auto list = reader.ListBridges("full");
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_EQ(list->size(), acknowledged.size());
    for (const auto& [record, dir] : acknowledged) {
      const std::string out = absl::StrCat(root_, "/", tag, "-", record.id().version());
      auto got = reader.DownloadBridge("full", record.id().version(), {}, out);
      ASSERT_TRUE(got.ok()) << got.status();
      for (const auto& f : record.files()) {
        EXPECT_EQ(ReadAll(out + "/" + f.name()), ReadAll(dir + "/" + f.name())) << f.name();
      }
      fs::remove_all(out);
    }
  };
  auto reader = Client("receiver");
  check(*reader, "during");
  // Still serving writes that fit.
  auto small = admin->UploadBridgeDirectory(MakeBridgeDir("small", 31, 1000), Header("full", "sst2"));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->id().version(), 4u);
  acknowledged.emplace_back(*small, root_ + "/src-small");

  registry_->Kill9();
  StartRegistry({}, std::move(restart_launcher));
  auto after = Client("receiver");
  check(*after, "after");
}

TEST_F(RegistryNodeTest, UploadDownloadResolveList) {
  auto admin = Client("admin");
  const std::string dir1 = MakeBridgeDir("one", 1);
  const std::string dir2 = MakeBridgeDir("two", 2);
  auto v1 = admin->UploadBridgeDirectory(dir1, Header("demo-bridge", "sst2"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = admin->UploadBridgeDirectory(dir2, Header("demo-bridge", "sst2"));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v1->id().version(), 1u);
  EXPECT_EQ(v2->id().version(), 2u);
  EXPECT_EQ(v1->files_size(), 3);
  EXPECT_NE(v1->id().digest(), v2->id().digest());
  EXPECT_EQ(v1->metadata_json(), ReadAll(dir1 + "/bridge.json"));

  // A receiver downloads the newest version; bytes are identical.
  auto receiver = Client("receiver");
  const std::string out = root_ + "/download";
  auto got = receiver->DownloadBridge("demo-bridge", 0, {}, out);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id().version(), 2u);
  for (const char* file : {"bridge.json", "sender.safetensors", "receiver.safetensors"}) {
    EXPECT_EQ(ReadAll(out + "/" + file), ReadAll(dir2 + "/" + file)) << file;
  }
  // Only some files, of an older version.
  const std::string out1 = root_ + "/download1";
  auto partial = receiver->DownloadBridge("demo-bridge", 1, {"receiver.safetensors"}, out1);
  ASSERT_TRUE(partial.ok()) << partial.status();
  ASSERT_EQ(partial->files_size(), 1);
  EXPECT_EQ(ReadAll(out1 + "/receiver.safetensors"), ReadAll(dir1 + "/receiver.safetensors"));
  EXPECT_FALSE(fs::exists(out1 + "/sender.safetensors"));
  auto missing_file = receiver->DownloadBridge("demo-bridge", 1, {"nope.bin"}, out1);
  EXPECT_EQ(missing_file.status().code(), absl::StatusCode::kNotFound);
  auto missing = receiver->DownloadBridge("no-such-bridge", 0, {}, out1);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  // Resolve: newest for the pair and task; other tasks and models do not match.
  auto sender = Client("sender");
  lip::v1::ResolveBridgeRequest resolve;
  resolve.mutable_sender_model()->set_name("lip-demo/sender-llama");
  resolve.mutable_receiver_model()->set_name("lip-demo/receiver-qwen");
  resolve.set_task("sst2");
  auto resolved = sender->ResolveBridge(resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->id().version(), 2u);
  EXPECT_EQ(resolved->id().digest(), v2->id().digest());
  auto other = admin->UploadBridgeDirectory(dir1, Header("news-bridge", "ag_news"));
  ASSERT_TRUE(other.ok()) << other.status();
  resolved = sender->ResolveBridge(resolve);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->id().name(), "demo-bridge");
  resolve.set_task("");
  resolved = sender->ResolveBridge(resolve);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->id().name(), "news-bridge");  // newest of any task
  resolve.set_task("trec");
  EXPECT_EQ(sender->ResolveBridge(resolve).status().code(), absl::StatusCode::kNotFound);

  auto all = sender->ListBridges();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto demo = sender->ListBridges("demo-bridge");
  ASSERT_TRUE(demo.ok());
  EXPECT_EQ(demo->size(), 2u);
}

TEST_F(RegistryNodeTest, RejectsBadUploads) {
  auto admin = Client("admin");
  // Header declares a digest the bytes do not have.
  grpc::ClientContext context;
  lip::v1::PutBridgeResponse response;
  auto writer = admin->stub()->PutBridge(&context, &response);
  lip::v1::PutBridgeChunk chunk;
  *chunk.mutable_header() = Header("bad", "sst2");
  auto* file = chunk.mutable_header()->add_files();
  file->set_name("receiver.safetensors");
  file->set_size_bytes(5);
  file->set_digest(Sha256Digest("hello"));
  ASSERT_TRUE(writer->Write(chunk));
  lip::v1::PutBridgeChunk data;
  data.set_data("jello");
  writer->Write(data);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();

  // A file name that tries to leave the blob directory.
  lip::v1::BridgeRecord header = Header("evil", "sst2");
  const std::string dir = MakeBridgeDir("evil", 3, 10);
  header.mutable_id()->set_name("evil");
  grpc::ClientContext context2;
  auto writer2 = admin->stub()->PutBridge(&context2, &response);
  *chunk.mutable_header() = header;
  file = chunk.mutable_header()->add_files();
  file->set_name("../escape");
  file->set_size_bytes(1);
  file->set_digest(Sha256Digest("x"));
  writer2->Write(chunk);
  writer2->WritesDone();
  status = writer2->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("../escape"), std::string::npos) << status.error_message();

  auto list = admin->ListBridges();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(RegistryNodeTest, RefusesUnauthenticatedAndWrongRole) {
  const std::string dir = MakeBridgeDir("r", 4, 1000);
  // No client certificate: the TLS handshake fails.
  {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(certs_ + "/ca.crt");
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", registry_->port()),
                                       grpc::SslCredentials(ssl));
    RegistryClient client(channel, Options("admin"));
    auto list = client.ListBridges();
    // Refused by the server: UNAVAILABLE with gRPC 1.51 (see RefusedTlsHandshakes).
    EXPECT_TRUE(list.status().code() == absl::StatusCode::kUnavailable ||
                list.status().code() == absl::StatusCode::kUnauthenticated)
        << list.status();
  }
  // A certificate from another CA claiming admin: handshake fails.
  {
    ClientOptions options = Options("rogue-admin");
    auto client = RegistryClient::Connect(options);
    // The client library itself refuses a certificate that does not chain to the CA...
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
    // ...so go around it, as an attacker would.
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(certs_ + "/ca.crt");
    ssl.pem_cert_chain = ReadAll(certs_ + "/rogue-admin.crt");
    ssl.pem_private_key = ReadAll(certs_ + "/rogue-admin.key");
    auto channel = grpc::CreateChannel(options.address, grpc::SslCredentials(ssl));
    RegistryClient rogue(channel, options);
    auto put = rogue.UploadBridgeDirectory(dir, Header("rogue", "sst2"));
    EXPECT_TRUE(put.status().code() == absl::StatusCode::kUnavailable ||
                put.status().code() == absl::StatusCode::kUnauthenticated)
        << put.status();
  }
  // Valid certificates with the wrong role.
  auto sender = Client("sender");
  auto put = sender->UploadBridgeDirectory(dir, Header("by-sender", "sst2"));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kPermissionDenied) << put.status();
  EXPECT_NE(put.status().message().find("admin"), absl::string_view::npos) << put.status();
  auto nobody = Client("nobody");
  EXPECT_EQ(nobody->ListBridges().status().code(), absl::StatusCode::kPermissionDenied);
  // A sender may not register itself as a receiver.
  lip::v1::NodeInfo node;
  node.set_node_id("fake-receiver");
  node.set_role(lip::v1::NODE_ROLE_RECEIVER);
  node.set_address("127.0.0.1:1");
  EXPECT_EQ(sender->RegisterNode(node).status().code(), absl::StatusCode::kPermissionDenied);
  // Nothing was written.
  auto list = Client("admin")->ListBridges();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(RegistryNodeTest, NodesHeartbeatsAndLinkStats) {
  registry_.reset();
  StartRegistry({"--heartbeat_interval_ms=100", "--liveness_timeout_ms=600"});
  auto receiver = Client("receiver");
  lip::v1::NodeInfo node;
  node.set_node_id("receiver-1");
  node.set_role(lip::v1::NODE_ROLE_RECEIVER);
  node.set_address("127.0.0.1:7002");
  node.mutable_model()->set_name("lip-demo/receiver-qwen");
  auto registered = receiver->RegisterNode(node);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->heartbeat_interval_ms(), 100u);
  EXPECT_EQ(receiver->Heartbeat("never-registered").code(), absl::StatusCode::kNotFound);

  auto sender = Client("sender");
  auto nodes = sender->ListNodes(lip::v1::NODE_ROLE_RECEIVER);
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_TRUE((*nodes)[0].alive());
  EXPECT_EQ((*nodes)[0].address(), "127.0.0.1:7002");
  EXPECT_EQ((*nodes)[0].model().name(), "lip-demo/receiver-qwen");
  nodes = sender->ListNodes(lip::v1::NODE_ROLE_SENDER);
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE(nodes->empty());

  // No heartbeat past the timeout: dead. A heartbeat revives it.
  bool died = false;
  for (int i = 0; i < 100 && !died; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    nodes = sender->ListNodes();
    died = nodes.ok() && nodes->size() == 1 && !(*nodes)[0].alive();
  }
  EXPECT_TRUE(died);
  ASSERT_TRUE(receiver->Heartbeat("receiver-1").ok());
  nodes = sender->ListNodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE((*nodes)[0].alive());

  // Leaving (a graceful stop) lists it as dead at once; only its own role or an admin may do it.
  EXPECT_EQ(sender->Leave("receiver-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(receiver->Leave("never-registered").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(receiver->Leave("receiver-1").ok());
  nodes = sender->ListNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_FALSE((*nodes)[0].alive());
  ASSERT_TRUE(receiver->Heartbeat("receiver-1").ok());  // back
  nodes = sender->ListNodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE((*nodes)[0].alive());

  lip::v1::LinkStats link;
  link.set_from_node("sender-1");
  link.set_to_node("receiver-1");
  link.set_messages(4);
  link.set_bytes(4000);
  link.set_latency_ms_sum(40);
  link.set_latency_ms_max(15);
  ASSERT_TRUE(sender->ReportLinkStats({link}).ok());
  link.set_latency_ms_max(12);
  ASSERT_TRUE(sender->ReportLinkStats({link}).ok());
  auto links = receiver->GetLinkStats();
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ((*links)[0].messages(), 8u);
  EXPECT_EQ((*links)[0].bytes(), 8000u);
  EXPECT_DOUBLE_EQ((*links)[0].latency_ms_sum(), 80);
  EXPECT_DOUBLE_EQ((*links)[0].latency_ms_max(), 15);

  auto text = testing::HttpGet(registry_->metrics_port(), "/metrics");
  ASSERT_TRUE(text.ok()) << text.status();
  auto samples = testing::ParsePrometheusText(*text);
  ASSERT_TRUE(samples.ok()) << samples.status();
  const std::map<std::string, std::string> labels = {{"from", "sender-1"}, {"to", "receiver-1"}};
  EXPECT_EQ(testing::SumSamples(*samples, "lip_registry_link_bytes_total", labels), 8000);
  EXPECT_EQ(testing::SumSamples(*samples, "lip_registry_link_latency_ms_mean", labels), 10);
  EXPECT_EQ(testing::SumSamples(*samples, "lip_registry_link_bandwidth_bytes_per_second", labels), 100000);
}

lip::v1::NodeInfo NodeOf(const std::string& id, lip::v1::NodeRole role, const std::string& address) {
  lip::v1::NodeInfo node;
  node.set_node_id(id);
  node.set_role(role);
  node.set_address(address);
  node.mutable_model()->set_name("lip-demo/model");
  return node;
}

// The address and liveness the registry lists for `id` ("" when not listed).
std::pair<std::string, bool> Listed(RegistryClient& client, const std::string& id) {
  auto nodes = client.ListNodes();
  EXPECT_TRUE(nodes.ok()) << nodes.status();
  if (!nodes.ok()) return {"", false};
  for (const auto& node : *nodes) {
    if (node.node_id() == id) return {node.address(), node.alive()};
  }
  return {"", false};
}

// Issue 14: any certificate of a role could rewrite (RegisterNode) another node's entry of that
// role, keep it alive (Heartbeat) or take it out (Leave). Now a certificate acts only for the
// node ids it names, or (naming none) for those it registered first; admins for any.
TEST_F(RegistryNodeTest, NodeIdentityBindsToTheCertificateForEveryRole) {
  const std::pair<lip::v1::NodeRole, std::string> roles[] = {
      {lip::v1::NODE_ROLE_RECEIVER, "receiver"},
      {lip::v1::NODE_ROLE_SENDER, "sender"},
      {lip::v1::NODE_ROLE_REGISTRY, "registry"}};
  auto admin = Client("admin");
  for (const auto& [role, name] : roles) {
    SCOPED_TRACE(name);
    auto owner = Client(name + "-a");     // names no node: bound by CN at first registration
    auto attacker = Client(name + "-b");  // same role, another certificate
    auto named = Client(name + "-named"); // names <name>-n in its SAN
    const std::string id = name + "-1";
    const std::string named_id = name + "-n";

    ASSERT_TRUE(owner->RegisterNode(NodeOf(id, role, "127.0.0.1:7001")).ok());
    // Takeover via RegisterNode: refused, the entry keeps the owner's address.
    auto taken = attacker->RegisterNode(NodeOf(id, role, "127.0.0.1:6666"));
    EXPECT_EQ(taken.status().code(), absl::StatusCode::kPermissionDenied) << taken.status();
    EXPECT_NE(taken.status().message().find(id), absl::string_view::npos) << taken.status();
    EXPECT_EQ(Listed(*admin, id).first, "127.0.0.1:7001");
    // Via Heartbeat and Leave: refused; the node stays alive.
    EXPECT_EQ(attacker->Heartbeat(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(attacker->Leave(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(Listed(*admin, id).second);
    // The attacker may register ids of its own.
    EXPECT_TRUE(attacker->RegisterNode(NodeOf(name + "-2", role, "127.0.0.1:6666")).ok());
    // The owner may heartbeat, move and leave its node.
    EXPECT_TRUE(owner->Heartbeat(id).ok());
    EXPECT_TRUE(owner->RegisterNode(NodeOf(id, role, "127.0.0.1:7011")).ok());
    EXPECT_EQ(Listed(*admin, id).first, "127.0.0.1:7011");
    EXPECT_TRUE(owner->Leave(id).ok());
    EXPECT_FALSE(Listed(*admin, id).second);
    // Leaving does not free the id for another certificate.
    EXPECT_EQ(attacker->RegisterNode(NodeOf(id, role, "127.0.0.1:6666")).status().code(),
              absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(attacker->Heartbeat(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_FALSE(Listed(*admin, id).second);
    EXPECT_TRUE(owner->Heartbeat(id).ok());
    EXPECT_TRUE(Listed(*admin, id).second);

    // A certificate naming its node id: that id only, and nobody else may take it.
    EXPECT_TRUE(named->RegisterNode(NodeOf(named_id, role, "127.0.0.1:7002")).ok());
    auto other = named->RegisterNode(NodeOf(name + "-3", role, "127.0.0.1:7003"));
    EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied) << other.status();
    EXPECT_NE(other.status().message().find(named_id), absl::string_view::npos) << other.status();
    EXPECT_EQ(named->Heartbeat(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(named->Leave(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(owner->RegisterNode(NodeOf(named_id, role, "127.0.0.1:6666")).status().code(),
              absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(owner->Heartbeat(named_id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(owner->Leave(named_id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(Listed(*admin, named_id).first, "127.0.0.1:7002");
    EXPECT_TRUE(named->Heartbeat(named_id).ok());

    // An admin may act for any node without taking it over.
    EXPECT_TRUE(admin->Heartbeat(id).ok());
    EXPECT_TRUE(admin->Leave(named_id).ok());
    EXPECT_TRUE(admin->RegisterNode(NodeOf(id, role, "127.0.0.1:7021")).ok());
    EXPECT_TRUE(owner->Heartbeat(id).ok());
    EXPECT_EQ(attacker->Heartbeat(id).code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(named->Heartbeat(named_id).ok());
    EXPECT_TRUE(Listed(*admin, named_id).second);
  }
  // Certificates of another role still get the role check first.
  auto sender = Client("sender-a");
  EXPECT_EQ(sender->Heartbeat("receiver-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sender->Leave("receiver-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Client("nobody")->Heartbeat("receiver-1").code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(RegistryNodeTest, MetricsParseAndMoveWithTraffic) {
  auto fetch = [&]() {
    auto text = testing::HttpGet(registry_->metrics_port(), "/metrics");
    EXPECT_TRUE(text.ok()) << text.status();
    auto samples = testing::ParsePrometheusText(text.ok() ? *text : "");
    EXPECT_TRUE(samples.ok()) << samples.status();
    return samples.ok() ? *samples : std::vector<testing::PrometheusSample>{};
  };
  auto sender = Client("sender");
  ASSERT_TRUE(sender->ListBridges().ok());
  auto before = fetch();
  const std::map<std::string, std::string> ok = {{"method", "ListBridges"}, {"code", "OK"}};
  const double listed = testing::SumSamples(before, "lip_rpc_requests_total", ok);
  EXPECT_GE(listed, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sender->ListBridges().ok());
  ASSERT_FALSE(sender->UploadBridgeDirectory(MakeBridgeDir("m", 5, 100), Header("m", "x")).ok());
  auto admin = Client("admin");
  ASSERT_TRUE(admin->UploadBridgeDirectory(MakeBridgeDir("m2", 6, 5000), Header("m", "x")).ok());
  auto after = fetch();
  EXPECT_EQ(testing::SumSamples(after, "lip_rpc_requests_total", ok), listed + 3);
  EXPECT_EQ(testing::SumSamples(after, "lip_rpc_requests_total",
                                {{"method", "PutBridge"}, {"code", "PERMISSION_DENIED"}}), 1);
  EXPECT_EQ(testing::SumSamples(after, "lip_rpc_requests_total",
                                {{"method", "PutBridge"}, {"code", "OK"}}), 1);
  EXPECT_EQ(testing::SumSamples(after, "lip_registry_bridges"), 1);
  EXPECT_GT(testing::SumSamples(after, "lip_registry_upload_bytes_total"), 5000);
  EXPECT_EQ(testing::SumSamples(after, "lip_rpc_latency_ms_count", {{"method", "ListBridges"}}),
            listed + 3);
}

TEST_F(RegistryNodeTest, HealthCheckServes) {
  auto channel = MakeClientChannel(Options("sender"));
  ASSERT_TRUE(channel.ok());
  grpc::GenericStub stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty_message("");  // empty HealthCheckRequest = overall server health
  grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

// client/health_check.h, what `lipctl node health` and the compose health checks call.
TEST_F(RegistryNodeTest, CheckHealthReportsServingAndErrors) {
  auto serving = CheckHealth(Options("sender"));
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ(*serving, ServingStatus::kServing);
  EXPECT_STREQ(ServingStatusName(*serving), "SERVING");

  auto unknown = CheckHealth(Options("sender"), "no.such.Service");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();

  ClientOptions nobody = Options("sender");
  nobody.address = "127.0.0.1:1";  // nothing listens on port 1
  nobody.timeout = absl::Seconds(5);
  auto unreachable = CheckHealth(nobody);
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable) << unreachable.status();
}

TEST_F(RegistryNodeTest, KillDashNineMidUploadKeepsAcknowledgedAndDropsPartial) {
  auto admin = Client("admin");
  std::vector<std::pair<lip::v1::BridgeRecord, std::string>> acknowledged;
  for (int i = 0; i < 3; ++i) {
    const std::string dir = MakeBridgeDir(absl::StrCat("ack", i), 10 + i, 300 << 10);
    auto record = admin->UploadBridgeDirectory(dir, Header("durable", "sst2"));
    ASSERT_TRUE(record.ok()) << record.status();
    acknowledged.emplace_back(*record, dir);
  }

  // Start a 4 MiB upload, send half of it, wait until the registry has
  // written those bytes (its own counter says so), then kill -9.
  const std::string big = RandomBytes(4 << 20, 99);
  grpc::ClientContext context;
  lip::v1::PutBridgeResponse response;
  auto writer = admin->stub()->PutBridge(&context, &response);
  lip::v1::PutBridgeChunk chunk;
  *chunk.mutable_header() = Header("durable", "sst2");
  auto* file = chunk.mutable_header()->add_files();
  file->set_name("sender.safetensors");
  file->set_size_bytes(big.size());
  file->set_digest(Sha256Digest(big));
  ASSERT_TRUE(writer->Write(chunk));
  const size_t half = big.size() / 2;
  for (size_t offset = 0; offset < half; offset += 256 << 10) {
    lip::v1::PutBridgeChunk data;
    data.set_data(big.substr(offset, 256 << 10));
    ASSERT_TRUE(writer->Write(data));
  }
  bool half_written = false;
  for (int i = 0; i < 200 && !half_written; ++i) {
    auto text = testing::HttpGet(registry_->metrics_port(), "/metrics");
    if (text.ok()) {
      auto samples = testing::ParsePrometheusText(*text);
      ASSERT_TRUE(samples.ok());
      // The three acknowledged uploads plus half of this one.
      half_written = testing::SumSamples(*samples, "lip_registry_upload_bytes_total") >=
                     3 * ((300 << 10) + (100 << 10) + 1) + half;
    }
    if (!half_written) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(half_written);
  ASSERT_FALSE(fs::is_empty(data_dir_ + "/tmp"));  // the partial upload is on disk
  registry_->Kill9();
  context.TryCancel();
  writer->Finish();

  StartRegistry();
  EXPECT_TRUE(fs::is_empty(data_dir_ + "/tmp"));
  auto reader = Client("receiver");
  auto list = reader->ListBridges("durable");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), acknowledged.size());
  size_t blob_dirs = 0;
  for (const auto& entry : fs::directory_iterator(data_dir_ + "/blobs")) blob_dirs += entry.is_directory();
  EXPECT_EQ(blob_dirs, acknowledged.size());
  for (const auto& [record, dir] : acknowledged) {
    const std::string out = absl::StrCat(root_, "/after-", record.id().version());
    auto got = reader->DownloadBridge("durable", record.id().version(), {}, out);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->id().digest(), record.id().digest());
    for (const auto& f : record.files()) {
      EXPECT_EQ(ReadAll(out + "/" + f.name()), ReadAll(dir + "/" + f.name())) << f.name();
    }
  }
  // The next upload gets the next version after the acknowledged ones.
  auto admin2 = Client("admin");  // the restarted registry has a new port
  auto next = admin2->UploadBridgeDirectory(acknowledged[0].second, Header("durable", "sst2"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id().version(), 4u);
}

// Issue 14: a full disk answered INTERNAL. A real full filesystem: a small tmpfs as the data
// directory (needs the right to mount, as root in the CI container; skipped otherwise).
TEST_F(RegistryNodeTest, FullDiskIsResourceExhaustedAndLosesNothing) {
  registry_.reset();
  fs::create_directories(data_dir_);
  if (mount("lip-registry-test", data_dir_.c_str(), "tmpfs", 0, "size=2m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); FileSizeLimitIsResourceExhaustedAndLosesNothing covers the same path";
  }
  mounted_ = data_dir_;
  StartRegistry();
  ExpectFullStorageLosesNothing(1536 << 10, {});
}

// The same through the registry process's file size limit (RLIMIT_FSIZE: writes past it fail
// with EFBIG), which needs no privileges.
TEST_F(RegistryNodeTest, FileSizeLimitIsResourceExhaustedAndLosesNothing) {
  const std::string prlimit = "/usr/bin/prlimit";
  if (!fs::exists(prlimit)) GTEST_SKIP() << prlimit << " (util-linux) is missing";
  registry_.reset();
  StartRegistry({}, {prlimit, absl::StrCat("--fsize=", 1 << 20), "--"});
  ExpectFullStorageLosesNothing(1536 << 10, {prlimit, absl::StrCat("--fsize=", 1 << 20), "--"});
}

// Issue 14: TLS failures surfaced as UNAVAILABLE. What gRPC 1.51 lets a client know:
// * the client refuses the server's certificate: UNAVAILABLE with "Ssl handshake failed" in the
//   message, which the client library reports as UNAUTHENTICATED (IsTlsHandshakeFailure);
// * the server refuses the client's certificate (TLS 1.3: after the client finished its part of
//   the handshake): the client sees only UNAVAILABLE "Socket closed", the same as a dropped
//   connection, so it stays UNAVAILABLE (docs/protocol.md, "TLS failures as status codes").
// Either way nothing is served and the node keeps serving everyone else.
TEST_F(RegistryNodeTest, RefusedTlsHandshakes) {
  const std::string ca = certs_ + "/ca.crt";
  const std::string other = root_ + "/other-certs";
  ASSERT_TRUE(testing::MakeCerts(other, {"admin"}).ok());
  {
    SCOPED_TRACE("client does not trust the server's CA");
    auto list = RawClient(certs_, "admin", other + "/ca.crt")->ListBridges();
    EXPECT_EQ(list.status().code(), absl::StatusCode::kUnauthenticated) << list.status();
    EXPECT_NE(list.status().message().find("TLS handshake failed"), absl::string_view::npos)
        << list.status();
  }
  for (const char* identity : {"rogue-admin", "expired-admin", "future-admin"}) {
    SCOPED_TRACE(identity);
    auto list = RawClient(certs_, identity, ca)->ListBridges();
    // gRPC 1.51 gives "Socket closed" (UNAVAILABLE); should the alert ever arrive while the
    // client is still in its handshake, it would be "Ssl handshake failed" (UNAUTHENTICATED).
    EXPECT_TRUE(list.status().code() == absl::StatusCode::kUnavailable ||
                list.status().code() == absl::StatusCode::kUnauthenticated)
        << list.status();
  }
  EXPECT_TRUE(Client("admin")->ListBridges().ok());
  // A registry that is not there is UNAVAILABLE, not a TLS failure.
  auto gone = Client("admin");
  registry_->Kill9();
  EXPECT_EQ(gone->ListBridges().status().code(), absl::StatusCode::kUnavailable);
}

// Expired and not-yet-valid certificates are refused everywhere: by the client library, by a
// node at start-up, and (above) by a node in the handshake.
TEST_F(RegistryNodeTest, ExpiredAndNotYetValidCertificatesAreRefused) {
  for (const std::string when : {"expired", "future"}) {
    SCOPED_TRACE(when);
    auto client = RegistryClient::Connect(Options(when + "-admin"));
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << client.status();
    EXPECT_NE(client.status().message().find(when == "expired" ? "expired" : "not yet valid"),
              absl::string_view::npos) << client.status();
    const std::string log = absl::StrCat(root_, "/registry-", when, ".log");
    auto node = NodeProcess::Start(
        LIP_REGISTRY_BINARY,
        {"--listen=127.0.0.1:0", "--metrics_listen=off", "--data_dir=" + root_ + "/data-" + when,
         "--tls_cert=" + certs_ + "/" + when + "-registry.crt",
         "--tls_key=" + certs_ + "/" + when + "-registry.key", "--tls_ca=" + certs_ + "/ca.crt"},
        log);
    EXPECT_FALSE(node.ok());
    EXPECT_NE(ReadAll(log).find(when == "expired" ? "expired" : "not yet valid"), std::string::npos)
        << ReadAll(log);
  }
}

// Replaces `path` in one step (write aside, rename), as a rotation tool should.
void ReplaceFile(const std::string& path, const std::string& bytes) {
  WriteFile(path + ".new", bytes);
  fs::rename(path + ".new", path);
}

// Calls ListBridges with fresh clients until one succeeds (true) or ~10 s pass (false).
bool EventuallyServes(const std::function<std::unique_ptr<RegistryClient>()>& make) {
  for (int i = 0; i < 50; ++i) {
    if (make()->ListBridges().ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// A certificate (here: one from a new CA) is rotated into a running node on SIGHUP and on a
// file change; an invalid one (expired) is refused and the node keeps its current one.
TEST_F(RegistryNodeTest, RotatesCertificateWithoutRestart) {
  const std::string next = root_ + "/next-certs";  // the new CA, with admin and registry
  ASSERT_TRUE(testing::MakeCerts(next, {"admin", "registry"}).ok());
  const std::string live = root_ + "/live";        // the files the registry is configured with
  fs::create_directories(live);
  WriteFile(live + "/registry.crt", ReadAll(certs_ + "/registry.crt"));
  WriteFile(live + "/registry.key", ReadAll(certs_ + "/registry.key"));
  WriteFile(live + "/ca.crt", ReadAll(certs_ + "/ca.crt"));
  const std::string both_cas = root_ + "/both-ca.crt";
  WriteFile(both_cas, ReadAll(certs_ + "/ca.crt") + ReadAll(next + "/ca.crt"));
  auto start = [&](const std::string& reload_ms) {
    registry_.reset();
    auto process = NodeProcess::Start(
        LIP_REGISTRY_BINARY,
        {"--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0", "--data_dir=" + data_dir_,
         "--tls_cert=" + live + "/registry.crt", "--tls_key=" + live + "/registry.key",
         "--tls_ca=" + live + "/ca.crt", "--tls_reload_ms=" + reload_ms},
        root_ + "/registry.log");
    ASSERT_TRUE(process.ok()) << process.status();
    registry_ = *std::move(process);
  };
  auto old_client = [&] { return RawClient(certs_, "admin", certs_ + "/ca.crt"); };
  auto next_client = [&] { return RawClient(next, "admin", next + "/ca.crt"); };

  start("0");  // SIGHUP only
  ASSERT_TRUE(old_client()->ListBridges().ok());
  EXPECT_EQ(next_client()->ListBridges().status().code(), absl::StatusCode::kUnauthenticated);
  // Rotate to the new CA's certificate, trusting both CAs during the change-over.
  ReplaceFile(live + "/ca.crt", ReadAll(both_cas));
  ReplaceFile(live + "/registry.key", ReadAll(next + "/registry.key"));
  ReplaceFile(live + "/registry.crt", ReadAll(next + "/registry.crt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(old_client()->ListBridges().ok());  // no SIGHUP yet: nothing changed
  ASSERT_EQ(kill(registry_->pid(), SIGHUP), 0);
  EXPECT_TRUE(EventuallyServes(next_client));
  // The node now presents the new certificate and still accepts clients of the old CA.
  EXPECT_EQ(old_client()->ListBridges().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(RawClient(certs_, "admin", both_cas)->ListBridges().ok());

  // An expired certificate is refused: the node keeps serving with the current one.
  ReplaceFile(live + "/registry.key", ReadAll(certs_ + "/expired-registry.key"));
  ReplaceFile(live + "/registry.crt", ReadAll(certs_ + "/expired-registry.crt"));
  ASSERT_EQ(kill(registry_->pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(next_client()->ListBridges().ok());
  EXPECT_NE(ReadAll(root_ + "/registry.log").find("new TLS material refused"), std::string::npos);

  // Checking for file changes (every 200 ms): back to the first CA's certificate, no signal.
  ReplaceFile(live + "/registry.key", ReadAll(next + "/registry.key"));
  ReplaceFile(live + "/registry.crt", ReadAll(next + "/registry.crt"));
  start("200");
  ASSERT_TRUE(next_client()->ListBridges().ok());
  ReplaceFile(live + "/registry.key", ReadAll(certs_ + "/registry.key"));
  ReplaceFile(live + "/registry.crt", ReadAll(certs_ + "/registry.crt"));
  EXPECT_TRUE(EventuallyServes(old_client));
  EXPECT_EQ(next_client()->ListBridges().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(ReadAll(root_ + "/registry.log").find("file change"), std::string::npos);
}

TEST_F(RegistryNodeTest, GracefulShutdownExitsCleanly) {
  EXPECT_EQ(registry_->Terminate(), 0);
  registry_.reset();
}

}  // namespace
}  // namespace lip
