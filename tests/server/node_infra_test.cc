// The node infrastructure in common/: metrics + /metrics server, structured
// logs, node config, TLS material checks, peer identity, gRPC status mapping.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/node/grpc_status.h"
#include "common/node/logging.h"
#include "common/node/metrics.h"
#include "common/node/metrics_http_server.h"
#include "common/node/node_config.h"
#include "common/wire/packet_error.h"
#include "common/node/peer_identity.h"
#include "common/node/tls_credentials.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
namespace fs = std::filesystem;

TEST(MetricsTest, SerializesCountersGaugesAndHistograms) {
  auto registry = std::make_shared<metrics::Registry>();
  auto& requests = metrics::BuildCounter().Name("lip_test_requests_total").Help("Requests.")
                       .Labels({{"node", "n1"}}).Register(*registry);
  requests.Add({{"code", "OK"}}).Increment();
  requests.Add({{"code", "OK"}}).Increment(2);
  requests.Add({{"code", "INVALID_ARGUMENT"}}).Increment();
  requests.Add({{"code", "OK"}}).Increment(-5);  // ignored: counters only go up
  auto& queue = metrics::BuildGauge().Name("lip_test_queue").Help("Queue\ndepth").Register(*registry);
  queue.Add({}).Set(7);
  queue.Add({}).Decrement(2);
  auto& latency = metrics::BuildHistogram().Name("lip_test_ms").Help("Latency.").Register(*registry);
  auto& histogram = latency.Add({{"stage", "pre\"fill"}}, metrics::Histogram::BucketBoundaries{1, 5, 10});
  for (double v : {0.5, 1.0, 3.0, 7.0, 100.0}) histogram.Observe(v);
  // Same name, type and constant labels: the same family; the name with another type is an error.
  EXPECT_EQ(&metrics::BuildCounter().Name("lip_test_requests_total").Labels({{"node", "n1"}})
                 .Register(*registry),
            &requests);
  EXPECT_THROW(metrics::BuildGauge().Name("lip_test_requests_total").Register(*registry),
               std::invalid_argument);

  const std::string text = metrics::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(text.find("# TYPE lip_test_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_requests_total{node=\"n1\",code=\"OK\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP lip_test_queue Queue\\ndepth\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_queue 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_ms_bucket{stage=\"pre\\\"fill\",le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_ms_bucket{stage=\"pre\\\"fill\",le=\"5\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_ms_bucket{stage=\"pre\\\"fill\",le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_ms_sum{stage=\"pre\\\"fill\"} 111.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lip_test_ms_count{stage=\"pre\\\"fill\"} 5\n"), std::string::npos) << text;
  auto parsed = testing::ParsePrometheusText(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(testing::SumSamples(*parsed, "lip_test_requests_total"), 4);
}

TEST(MetricsTest, CountersAreExactUnderConcurrency) {
  metrics::Registry registry;
  auto& counter = metrics::BuildCounter().Name("c_total").Help("c").Register(registry).Add({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { for (int i = 0; i < 10000; ++i) counter.Increment(); });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.Value(), 40000);
}

TEST(MetricsHttpServerTest, ServesMetricsOnAnOsChosenPort) {
  auto registry = std::make_shared<metrics::Registry>();
  auto& counter = metrics::BuildCounter().Name("lip_hits_total").Help("Hits").Register(*registry).Add({});
  MetricsHttpServer server(registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_GT(server.port(), 0);
  counter.Increment(41);
  auto body = testing::HttpGet(server.port(), "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  auto samples = testing::ParsePrometheusText(*body);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(testing::SumSamples(*samples, "lip_hits_total"), 41);
  counter.Increment();
  body = testing::HttpGet(server.port(), "/metrics");
  ASSERT_TRUE(body.ok());
  EXPECT_NE(body->find("lip_hits_total 42"), std::string::npos);
  // The same port again cannot be bound.
  MetricsHttpServer second(registry);
  EXPECT_EQ(second.Start("127.0.0.1:" + std::to_string(server.port())).code(),
            absl::StatusCode::kUnavailable);
  server.Stop();
}

TEST(LoggingTest, WritesOneJsonObjectPerLine) {
  const std::string line = FormatLogLine(LogLevel::kWarning, "receiver", "queue full",
                                         {{"queue", 64}, {"msg", "shadowed"}});
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["level"], "warning");
  EXPECT_EQ(json["component"], "receiver");
  EXPECT_EQ(json["msg"], "queue full");
  EXPECT_EQ(json["queue"], 64);
  EXPECT_EQ(json["field.msg"], "shadowed");
  EXPECT_EQ(json["time"].get<std::string>().size(), 24u);  // 2026-11-23T14:50:01.123Z
  EXPECT_EQ(line.find('\n'), std::string::npos);
  // Invalid UTF-8 does not throw.
  EXPECT_NO_THROW(FormatLogLine(LogLevel::kInfo, "x", std::string("\xff\xfe", 2), nullptr));

  std::FILE* sink = std::tmpfile();
  SetLogSink(sink);
  SetMinLogLevel(LogLevel::kWarning);
  LogInfo("x", "dropped");
  LogError("x", "kept", {{"k", "v"}});
  SetLogSink(nullptr);
  SetMinLogLevel(LogLevel::kInfo);
  std::rewind(sink);
  char buffer[1024] = {0};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, sink);
  std::fclose(sink);
  const std::string written(buffer, n);
  EXPECT_EQ(written.find("dropped"), std::string::npos);
  EXPECT_NE(written.find("\"msg\":\"kept\""), std::string::npos);
  EXPECT_EQ(ParseLogLevel("verbose").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NodeConfigTest, MergesJsonAndKeepsSections) {
  NodeConfig config;
  ASSERT_TRUE(MergeNodeConfigJson(R"({"node_id":"r1","listen":"127.0.0.1:7002",
      "tls":{"cert":"a.crt","key":"a.key","ca":"ca.crt"},"log_level":"debug",
      "receiver":{"max_batch_size":8}})", config).ok());
  EXPECT_EQ(config.node_id, "r1");
  EXPECT_EQ(config.listen, "127.0.0.1:7002");
  EXPECT_EQ(config.tls.cert_file, "a.crt");
  EXPECT_FALSE(config.tls.insecure);
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.sections["receiver"]["max_batch_size"], 8);
  EXPECT_EQ(config.metrics_listen, "127.0.0.1:0");  // default kept
  absl::Status bad = MergeNodeConfigJson(R"({"listen": 7})", config);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("listen"), absl::string_view::npos);
  EXPECT_EQ(MergeNodeConfigJson("{not json", config).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MergeNodeConfigFile("/nonexistent/lip.json", config).code(), absl::StatusCode::kNotFound);
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("lip-tls-test"));
    ASSERT_TRUE(testing::MakeCerts(*dir_, {"admin", "sender", "multi:sender+receiver", "nobody:none"}).ok());
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete dir_;
  }
  static TlsOptions Options(const std::string& node, const std::string& ca = "ca") {
    return {*dir_ + "/" + node + ".crt", *dir_ + "/" + node + ".key", *dir_ + "/" + ca + ".crt"};
  }
  static std::string* dir_;
};
std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, LoadsValidMaterial) {
  auto material = LoadTlsMaterial(Options("sender"));
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_NE(material->cert_chain_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(MakeServerCredentials(Options("sender")).ok());
  EXPECT_TRUE(MakeChannelCredentials(Options("sender")).ok());
}

TEST_F(TlsTest, ExplainsBadMaterial) {
  TlsOptions missing = Options("sender");
  missing.cert_file = *dir_ + "/absent.crt";
  auto status = LoadTlsMaterial(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("absent.crt"), absl::string_view::npos);

  TlsOptions mismatch = Options("sender");
  mismatch.key_file = *dir_ + "/admin.key";
  status = LoadTlsMaterial(mismatch).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("does not match"), absl::string_view::npos) << status;

  const std::string garbage = *dir_ + "/garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  TlsOptions bad_pem = Options("sender");
  bad_pem.cert_file = garbage;
  status = LoadTlsMaterial(bad_pem).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("garbage.pem"), absl::string_view::npos);
  bad_pem = Options("sender");
  bad_pem.key_file = garbage;
  EXPECT_EQ(LoadTlsMaterial(bad_pem).status().code(), absl::StatusCode::kInvalidArgument);

  status = LoadTlsMaterial(Options("rogue-admin")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("does not verify"), absl::string_view::npos) << status;

  EXPECT_EQ(LoadTlsMaterial(TlsOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeServerCredentials(TlsOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
  TlsOptions insecure;
  insecure.insecure = true;
  EXPECT_TRUE(MakeServerCredentials(insecure).ok());
}

TEST_F(TlsTest, ReadsRolesFromCertificates) {
  auto read = [](const std::string& node) {
    auto pem = ReadFileToString(*dir_ + "/" + node + ".crt");
    EXPECT_TRUE(pem.ok());
    auto identity = PeerIdentityFromPem(*pem);
    EXPECT_TRUE(identity.ok()) << identity.status();
    return identity.ok() ? *identity : PeerIdentity{};
  };
  PeerIdentity sender = read("sender");
  EXPECT_EQ(sender.common_name, "sender");
  EXPECT_TRUE(sender.Has(Role::kSender));
  EXPECT_FALSE(sender.Has(Role::kAdmin));
  PeerIdentity multi = read("multi");
  EXPECT_TRUE(multi.Has(Role::kSender));
  EXPECT_TRUE(multi.Has(Role::kReceiver));
  EXPECT_FALSE(multi.Has(Role::kRegistry));
  PeerIdentity nobody = read("nobody");
  EXPECT_TRUE(nobody.roles.empty());
  absl::Status denied = RequireRole(nobody, {Role::kAdmin}, "write the registry");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("nobody"), absl::string_view::npos) << denied;
  EXPECT_TRUE(RequireRole(read("admin"), {Role::kAdmin}, "write").ok());
  PeerIdentity insecure;
  insecure.insecure = true;
  EXPECT_TRUE(insecure.Has(Role::kAdmin));
  EXPECT_EQ(PeerIdentityFromPem("junk").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RoleUri(Role::kReceiver), "lip://role/receiver");
}

// Every RPC asks for its caller's identity; the cached parse gives each certificate's own identity
// on every call (never another certificate's) and keeps refusing a bad one.
TEST_F(TlsTest, CachedIdentitiesAreEachCertificatesOwn) {
  for (int round = 0; round < 3; ++round) {
    for (const std::string node : {"sender", "multi", "nobody", "admin"}) {
      auto pem = ReadFileToString(*dir_ + "/" + node + ".crt");
      ASSERT_TRUE(pem.ok());
      auto cached = CachedPeerIdentityFromPem(*pem);
      auto parsed = PeerIdentityFromPem(*pem);
      ASSERT_TRUE(cached.ok() && parsed.ok()) << cached.status();
      EXPECT_EQ(cached->common_name, parsed->common_name) << node;
      EXPECT_EQ(cached->roles, parsed->roles) << node;
      EXPECT_EQ(cached->node_ids, parsed->node_ids) << node;
    }
    EXPECT_EQ(CachedPeerIdentityFromPem("junk").status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(GrpcStatusTest, KeepsCodeMessageAndReason) {
  absl::Status status = PacketError(PacketDefect::kChecksumMismatch, "crc32c is 0x1, expected 0x2");
  EXPECT_EQ(ErrorReasonOf(status), "CHECKSUM_MISMATCH");
  grpc::Status wire = ToGrpcStatus(status);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(wire.error_message(), "crc32c is 0x1, expected 0x2");
  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(WithErrorReason(absl::InternalError("x"), "R")), "R");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "full")).code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace lip
