// End-to-end tests of the registry node: the real lip-registry binary on
// 127.0.0.1 with mutual TLS and OS-chosen ports, driven through the client
// library (client/lip_client.h) and raw stubs.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/sha256.h"
#include "common/tls_credentials.h"
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
    ASSERT_TRUE(testing::MakeCerts(certs_, {"admin", "registry", "sender", "receiver", "nobody:none"}).ok());
    data_dir_ = root_ + "/data";
    StartRegistry();
  }

  void TearDown() override {
    registry_.reset();
    std::error_code ignored;
    if (!HasFailure()) fs::remove_all(root_, ignored);
  }

  void StartRegistry(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0", "--data_dir=" + data_dir_,
        "--tls_cert=" + certs_ + "/registry.crt", "--tls_key=" + certs_ + "/registry.key",
        "--tls_ca=" + certs_ + "/ca.crt", "--shutdown_grace_ms=5000"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto process = NodeProcess::Start(LIP_REGISTRY_BINARY, args, root_ + "/registry.log");
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

  std::string root_, certs_, data_dir_;
  std::unique_ptr<NodeProcess> registry_;
};

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
    EXPECT_EQ(list.status().code(), absl::StatusCode::kUnavailable) << list.status();
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
    EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
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

TEST_F(RegistryNodeTest, GracefulShutdownExitsCleanly) {
  EXPECT_EQ(registry_->Terminate(), 0);
  registry_.reset();
}

}  // namespace
}  // namespace lip
