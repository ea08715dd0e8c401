// A short smoke of the load test (`lipctl bench run`, client/load_generator.h) against real nodes:
// a receiver and a sender on the demo pair (random bridge: the wiring, not the accuracy, is under
// test) on 127.0.0.1 with mutual TLS, every path at two closed-loop levels and one open-loop level,
// a second or two each. The JSON must be well formed, every request sent must be answered, the
// answers counted by status must add up per level and per path, and the CSV must have one row per
// level. A run whose every request is refused must record those statuses and exit 1. No timing is
// asserted (benchmarks/load_test.sh measures).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {

using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs lipctl with `args` (stdout/stderr to root/<name>.out/.err); returns its exit status.
int RunLipctl(const std::string& root, const std::string& name, const std::vector<std::string>& args) {
  const std::string command = absl::StrCat(LIP_LIPCTL_BINARY, " ", absl::StrJoin(args, " "), " > ", root, "/", name,
                                           ".out 2> ", root, "/", name, ".err");
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t SumValues(const json& counts) {
  int64_t sum = 0;
  for (const auto& [name, n] : counts.items()) sum += n.get<int64_t>();
  return sum;
}

class LoadTestSmoke : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-load-smoke");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    ASSERT_TRUE(testing::MakeRandomDemoBridge(dir_->root() + "/bridge", "load-smoke-sst2").ok());
    receiver_ = dir_->Start(LIP_RECEIVER_BINARY, "receiver",
                            {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                             "--bridge_dir=" + dir_->root() + "/bridge", "--allow_model_mismatch",
                             "--data_dir=" + dir_->root() + "/receiver-data"})
                    .release();
    ASSERT_NE(receiver_, nullptr);
    sender_ = dir_->Start(LIP_SENDER_BINARY, "sender",
                          {"--model_dir=" + std::string(testing::kDemoSenderModel),
                           "--bridge_dir=" + dir_->root() + "/bridge", "--allow_model_mismatch",
                           "--data_dir=" + dir_->root() + "/sender-data"})
                  .release();
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

  // The connection flags for `identity`.
  static std::vector<std::string> Flags(const std::string& identity) {
    const std::string certs = dir_->root() + "/certs/";
    const std::string receiver = absl::StrCat("127.0.0.1:", receiver_->port());
    return {"bench", "run", "--sender", absl::StrCat("127.0.0.1:", sender_->port()), "--receiver", receiver,
            "--to", receiver, "--cert", certs + identity + ".crt", "--key", certs + identity + ".key",
            "--ca", certs + "ca.crt", "--messages", "demo/messages.jsonl", "--task", "sst2", "--quiet"};
  }

  static testing::NodeTestDir* dir_;
  static testing::NodeProcess* receiver_;
  static testing::NodeProcess* sender_;
};
testing::NodeTestDir* LoadTestSmoke::dir_ = nullptr;
testing::NodeProcess* LoadTestSmoke::receiver_ = nullptr;
testing::NodeProcess* LoadTestSmoke::sender_ = nullptr;

TEST_F(LoadTestSmoke, EveryRequestIsAnsweredAndTheCountsAddUp) {
  const std::string root = dir_->root();
  std::vector<std::string> args = Flags("sender");
  for (const char* arg : {"--paths", "latent,text_relay,direct_text", "--concurrency", "1,2", "--rates", "4",
                          "--duration-s", "1", "--max-messages", "6", "--min-messages", "2", "--generate-tokens", "4",
                          "--warmup", "1"}) {
    args.push_back(arg);
  }
  args.insert(args.end(), {"--json", root + "/bench.json", "--csv", root + "/bench.csv"});
  ASSERT_EQ(RunLipctl(root, "bench", args), 0) << ReadAll(root + "/bench.err");

  json result = json::parse(ReadAll(root + "/bench.json"), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << "not JSON: " << ReadAll(root + "/bench.json");
  EXPECT_EQ(result["transport"], "grpc+mtls");
  EXPECT_TRUE(result["all_answered"].get<bool>());
  json& measurements = result["measurements"];
  ASSERT_TRUE(measurements.is_array());
  ASSERT_EQ(measurements.size(), 9u);  // 3 paths x (2 closed-loop levels + 1 open-loop level)

  std::map<std::string, int64_t> sent_per_path;
  std::map<std::string, std::map<std::string, int64_t>> statuses_per_path;
  for (json& m : measurements) {
    for (const char* key : {"device", "model_shapes", "path", "transport", "concurrency", "messages",
                            "throughput_msg_s", "p50_ms", "p95_ms", "p99_ms", "answered_by_status"}) {
      EXPECT_TRUE(m.contains(key)) << key << " missing in " << m.dump();
    }
    const std::string path = m["path"];
    const int64_t sent = m["messages"].get<int64_t>();
    EXPECT_GE(sent, 1) << m.dump();
    EXPECT_LE(sent, 6) << m.dump();  // bounded by --max-messages
    // --min-messages stretches the 1 s level until 2 were sent, up to 10 x the duration.
    if (m["duration_s"].get<double>() < 10) EXPECT_GE(sent, 2) << m.dump();
    EXPECT_EQ(m["answered"].get<int64_t>(), sent) << m.dump();
    EXPECT_EQ(SumValues(m["answered_by_status"]), sent) << m.dump();
    for (const auto& [code, n] : m["answered_by_status"].items()) {
      EXPECT_TRUE(code == "OK" || code == "RESOURCE_EXHAUSTED") << m.dump();
      statuses_per_path[path][code] += n.get<int64_t>();
    }
    sent_per_path[path] += sent;
    if (m["answered_by_status"].value("OK", 0) > 0) {
      EXPECT_LE(m["p50_ms"].get<double>(), m["p95_ms"].get<double>());
      EXPECT_LE(m["p95_ms"].get<double>(), m["p99_ms"].get<double>());
      EXPECT_LE(m["p99_ms"].get<double>(), m["max_ms"].get<double>());
      EXPECT_TRUE(m["accuracy"].is_number()) << m.dump();  // the sst2 messages are labelled
    }
    if (path == "text_relay") EXPECT_EQ(m["generate_tokens"], 4);
  }
  ASSERT_EQ(sent_per_path.size(), 3u);
  for (const char* name : {"latent", "text_relay", "direct_text"}) {
    json& p = result["paths"][name];
    ASSERT_TRUE(p.is_object()) << name;
    EXPECT_EQ(p["sent"].get<int64_t>(), sent_per_path[name]) << name;
    EXPECT_EQ(p["answered"].get<int64_t>(), sent_per_path[name]) << name;
    for (const auto& [code, n] : p["answered_by_status"].items()) {
      EXPECT_EQ(n.get<int64_t>(), statuses_per_path[name][code]) << name << " " << code;
    }
    for (const char* key : {"saturation_throughput_msg_s", "p50_ms_c1", "p99_ms_c1", "bytes_per_message", "accuracy"}) {
      EXPECT_TRUE(p.contains(key)) << name << " lacks " << key;
    }
  }
  EXPECT_GT(result["paths"]["latent"]["bytes_per_message"].get<double>(), 0);  // packets are never empty
  EXPECT_TRUE(result["speedups"].contains("latent_over_text_relay_throughput"));

  // CSV: a header and one row per level.
  std::istringstream csv(ReadAll(root + "/bench.csv"));
  std::string line;
  int rows = 0;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line.rfind("path,mode,concurrency,", 0), 0u) << line;
  while (std::getline(csv, line)) rows += line.empty() ? 0 : 1;
  EXPECT_EQ(rows, 9);
}

TEST_F(LoadTestSmoke, RefusedRequestsAreRecordedByStatusAndFailTheRun) {
  // The admin certificate may not call a receiver: every direct-text request is refused.
  const std::string root = dir_->root();
  std::vector<std::string> args = Flags("admin");
  for (const char* arg : {"--paths", "direct_text", "--concurrency", "2", "--duration-s", "1", "--max-messages",
                          "5", "--warmup", "0"}) {
    args.push_back(arg);
  }
  args.insert(args.end(), {"--json", root + "/refused.json"});
  EXPECT_EQ(RunLipctl(root, "refused", args), 1) << ReadAll(root + "/refused.err");
  json result = json::parse(ReadAll(root + "/refused.json"), nullptr, false);
  ASSERT_TRUE(result.is_object());
  EXPECT_FALSE(result["only_ok_or_resource_exhausted"].get<bool>());
  json& p = result["paths"]["direct_text"];
  EXPECT_EQ(p["sent"], 5);
  EXPECT_EQ(p["answered_by_status"], json({{"PERMISSION_DENIED", 5}}));
  EXPECT_TRUE(p["accuracy"].is_null());
}

}  // namespace
}  // namespace lip
