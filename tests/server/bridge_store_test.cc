// BridgeStore as a library: atomic publication, digests, versions, resolve,
// and cleanup of what a crash leaves behind.
#include "server/registry/bridge_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/wire/sha256.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
namespace fs = std::filesystem;

lip::v1::BridgeRecord Header(const std::string& name, const std::string& task,
                             const std::vector<std::pair<std::string, std::string>>& files) {
  lip::v1::BridgeRecord header;
  header.mutable_id()->set_name(name);
  header.mutable_sender_model()->set_name("s");
  header.mutable_receiver_model()->set_name("r");
  header.set_task(task);
  for (const auto& [file_name, bytes] : files) {
    auto* file = header.add_files();
    file->set_name(file_name);
    file->set_size_bytes(bytes.size());
    file->set_digest(Sha256Digest(bytes));
  }
  return header;
}

class BridgeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("lip-store-test");
    options_.data_dir = dir_;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  absl::StatusOr<lip::v1::BridgeRecord> Put(BridgeStore& store, const lip::v1::BridgeRecord& header,
                                            const std::string& bytes, size_t chunk = 3) {
    auto upload = store.BeginUpload(header);
    if (!upload.ok()) return upload.status();
    for (size_t i = 0; i < bytes.size(); i += chunk) {
      absl::Status status = (*upload)->Append(absl::string_view(bytes).substr(i, chunk));
      if (!status.ok()) return status;
    }
    return (*upload)->Commit();
  }
  std::string dir_;
  BridgeStoreOptions options_;
};

TEST_F(BridgeStoreTest, PublishesVersionsAndServesFiles) {
  auto store = BridgeStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  // Files split across chunk boundaries, including an empty file in the middle.
  auto v1 = Put(**store, Header("b", "sst2", {{"a.json", "{}"}, {"empty", ""}, {"w.bin", "0123456789"}}),
                "{}0123456789");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->id().version(), 1u);
  EXPECT_EQ(v1->id().digest(),
            Sha256Digest(Sha256Digest("{}") + Sha256Digest("") + Sha256Digest("0123456789")));
  // With bridge halves, the digest is bridge.json's: sender then receiver file digests.
  auto halves = Put(**store, Header("h", "other", {{"bridge.json", "{}"}, {"receiver.safetensors", "R"},
                                                  {"sender.safetensors", "S"}}), "{}RS");
  ASSERT_TRUE(halves.ok()) << halves.status();
  EXPECT_EQ(halves->id().digest(), Sha256Digest(Sha256Digest("S") + Sha256Digest("R")));
  auto path = (*store)->FilePath(*v1, "w.bin");
  ASSERT_TRUE(path.ok());
  std::ifstream in(*path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "0123456789");
  EXPECT_TRUE(fs::exists(fs::path(*path).parent_path() / "empty"));

  auto v2 = Put(**store, Header("b", "sst2", {{"w.bin", "abc"}}), "abc");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->id().version(), 2u);
  auto newest = (*store)->Get("b", 0);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->id().version(), 2u);
  // Explicit version that is taken.
  auto header = Header("b", "sst2", {{"w.bin", "x"}});
  header.mutable_id()->set_version(1);
  EXPECT_EQ(Put(**store, header, "x").status().code(), absl::StatusCode::kAlreadyExists);
  // Declared bridge digest that does not match.
  header = Header("c", "sst2", {{"w.bin", "x"}});
  header.mutable_id()->set_digest(Sha256Digest("other"));
  EXPECT_EQ(Put(**store, header, "x").status().code(), absl::StatusCode::kDataLoss);

  auto list = (*store)->List("");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  lip::v1::ModelId s, r;
  s.set_name("s");
  r.set_name("r");
  auto resolved = (*store)->Resolve(s, r, "sst2");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->id().version(), 2u);
  s.set_weights_digest(Sha256Digest("weights"));  // the stored row has no digest
  EXPECT_EQ((*store)->Resolve(s, r, "sst2").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BridgeStoreTest, RejectsWrongSizesAndBadHeaders) {
  auto store = BridgeStore::Open(options_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(Put(**store, Header("b", "t", {{"f", "abc"}}), "abcd").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(**store, Header("b", "t", {{"f", "abc"}}), "ab").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(**store, Header("b", "t", {{"f", "abc"}}), "abd").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Put(**store, Header("b", "t", {{"../f", "abc"}}), "abc").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(**store, Header("b", "t", {{"f", "a"}, {"f", "a"}}), "aa").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(**store, Header("", "t", {{"f", "a"}}), "a").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(**store, Header("b", "t", {}), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto list = (*store)->List("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  // Nothing is left in tmp/ or blobs/ after failed uploads.
  EXPECT_TRUE(fs::is_empty(dir_ + "/tmp"));
  EXPECT_TRUE(fs::is_empty(dir_ + "/blobs"));
}

TEST_F(BridgeStoreTest, OpenRemovesInterruptedUploadsAndOrphans) {
  {
    auto store = BridgeStore::Open(options_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(Put(**store, Header("keep", "t", {{"f", "kept"}}), "kept").ok());
  }
  // A crash mid-upload leaves a temp directory; a crash between rename and
  // the SQLite commit leaves a blob directory without a row.
  fs::create_directories(dir_ + "/tmp/deadbeef");
  std::ofstream(dir_ + "/tmp/deadbeef/f") << "half";
  fs::create_directories(dir_ + "/blobs/0123456789abcdef");
  std::ofstream(dir_ + "/blobs/0123456789abcdef/f") << "never committed";
  auto store = BridgeStore::Open(options_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->removed_temp_uploads(), 1);
  EXPECT_EQ((*store)->removed_orphan_blobs(), 1);
  EXPECT_FALSE(fs::exists(dir_ + "/blobs/0123456789abcdef"));
  auto kept = (*store)->Get("keep", 0);
  ASSERT_TRUE(kept.ok());
  auto path = (*store)->FilePath(*kept, "f");
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(fs::exists(*path));
}

}  // namespace
}  // namespace lip
