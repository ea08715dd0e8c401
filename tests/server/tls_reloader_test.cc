// TlsReloader in process (registry_node_test rotates a real node's certificate end to end):
// which changes it takes, which it refuses, and that SIGHUP makes it look at once.
#include "common/node/tls_reloader.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/server/node_process.h"

namespace lip {
namespace {
namespace fs = std::filesystem;

std::string Read(const std::string& path) {
  auto text = ReadFileToString(path);
  return text.ok() ? *text : std::string();
}

// Writes aside, then renames into place.
void Replace(const std::string& path, const std::string& bytes) {
  {
    std::ofstream out(path + ".new", std::ios::binary);
    out << bytes;
  }
  fs::rename(path + ".new", path);
}

class TlsReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("lip-tls-reloader");
    ASSERT_FALSE(root_.empty());
    certs_ = root_ + "/certs";
    ASSERT_TRUE(testing::MakeCerts(certs_, {"a:admin", "b:admin", "--validity=expired", "old:admin"}).ok());
    Use("a");
    Replace(root_ + "/ca.crt", Read(certs_ + "/ca.crt"));
    files_.cert_file = root_ + "/node.crt";
    files_.key_file = root_ + "/node.key";
    files_.ca_file = root_ + "/ca.crt";
  }
  void TearDown() override {
    std::error_code ignored;
    if (!HasFailure()) fs::remove_all(root_, ignored);
  }
  // Points the node's files at certificate `name` (key first, as a careless tool might).
  void Use(const std::string& name, const std::string& key_of = "") {
    Replace(root_ + "/node.key", Read(certs_ + "/" + (key_of.empty() ? name : key_of) + ".key"));
    Replace(root_ + "/node.crt", Read(certs_ + "/" + name + ".crt"));
  }
  std::string root_, certs_;
  TlsOptions files_;
};

TEST_F(TlsReloaderTest, TakesValidMaterialAndRefusesTheRest) {
  auto reloader = TlsReloader::Start(files_, absl::ZeroDuration());
  ASSERT_TRUE(reloader.ok()) << reloader.status();
  ASSERT_NE((*reloader)->provider(), nullptr);
  auto unchanged = (*reloader)->CheckNow();
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_FALSE(*unchanged);
  Use("b");
  auto taken = (*reloader)->CheckNow();
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_TRUE(*taken);
  EXPECT_EQ((*reloader)->reloads(), 1u);
  Use("a", "b");  // a's certificate with b's key
  auto mismatched = (*reloader)->CheckNow();
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("does not match"), absl::string_view::npos);
  Use("old");
  auto expired = (*reloader)->CheckNow();
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(expired.status().message().find("expired"), absl::string_view::npos) << expired.status();
  EXPECT_EQ((*reloader)->reloads(), 1u);
  // A node never starts with material it would refuse.
  EXPECT_EQ(TlsReloader::Start(files_, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsReloaderTest, SighupAndFileChangesTriggerAReload) {
  auto on_signal = TlsReloader::Start(files_, absl::ZeroDuration());       // SIGHUP only
  auto on_change = TlsReloader::Start(files_, absl::Milliseconds(100));    // and file changes
  ASSERT_TRUE(on_signal.ok() && on_change.ok());
  Use("b");
  auto wait_for = [](const TlsReloader& reloader, uint64_t reloads) {
    for (int i = 0; i < 100 && reloader.reloads() < reloads; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return reloader.reloads() >= reloads;
  };
  EXPECT_TRUE(wait_for(**on_change, 1));
  EXPECT_EQ((*on_signal)->reloads(), 0u);  // no signal yet
  ASSERT_EQ(raise(SIGHUP), 0);            // the process survives: the handler is installed
  EXPECT_TRUE(wait_for(**on_signal, 1));
}

}  // namespace
}  // namespace lip
