// BridgeStore: the registry's durable store of bridge checkpoints.
//
// Metadata lives in SQLite (<data_dir>/registry.sqlite), file bytes in a blob
// directory (<data_dir>/blobs/<random id>/<file name>). Publication is atomic:
// an upload is written under <data_dir>/tmp/, every file's SHA-256 and size is
// checked against the header, files and directories are fsync'ed, the upload
// directory is renamed into blobs/, and only then is the SQLite row committed.
// Readers only ever see committed rows, so nothing half-written is served,
// also after `kill -9` at any point. Open() removes what a crash can leave
// behind: everything under tmp/ and blob directories without a row.
//
// The bridge digest (BridgeId.digest) is the one bridge.json records and
// packets carry: "sha256:<hex>" of the concatenated file digest strings of
// sender.safetensors then receiver.safetensors (whichever are present; a
// checkpoint with neither uses all files in ascending name order). An uploader
// that sets it gets it checked, one that leaves it empty gets it filled in.
//
// Knows nothing of gRPC. Errors: INVALID_ARGUMENT for bad headers or data
// (naming the value), ALREADY_EXISTS for a taken (name, version), NOT_FOUND for
// unknown bridges/files, DATA_LOSS for digest mismatches, RESOURCE_EXHAUSTED
// when the disk is full (ENOSPC, EDQUOT, EFBIG from a file size limit, or
// SQLITE_FULL: the failed upload leaves nothing behind and every committed
// bridge stays readable), INTERNAL for other I/O or SQLite failures. Thread-safety: all methods are safe from several threads;
// one BridgeUpload is used by one thread at a time.
#ifndef LIP_SERVER_REGISTRY_BRIDGE_STORE_H_
#define LIP_SERVER_REGISTRY_BRIDGE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lip/v1/registry.pb.h"

struct sqlite3;

namespace lip {

struct BridgeStoreOptions {
  std::string data_dir;                          // required; created if missing
  uint64_t max_file_bytes = uint64_t{4} << 30;   // per checkpoint file
  uint64_t max_bridge_bytes = uint64_t{8} << 30; // all files of one bridge
  uint32_t max_files = 64;                       // files per bridge
};

class BridgeStore;

// One upload in progress. Feed the bytes of header.files in order with
// Append(), then Commit(). Destroying it without Commit() discards the
// temporary files. Not thread-safe.
class BridgeUpload {
 public:
  ~BridgeUpload();
  BridgeUpload(const BridgeUpload&) = delete;
  BridgeUpload& operator=(const BridgeUpload&) = delete;

  // INVALID_ARGUMENT when the bytes run past the sizes the header declared.
  absl::Status Append(absl::string_view data);
  // Verifies sizes and digests, publishes, and returns the stored record with
  // its version, bridge digest and creation time.
  absl::StatusOr<lip::v1::BridgeRecord> Commit();
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  friend class BridgeStore;
  BridgeUpload(BridgeStore* store, lip::v1::BridgeRecord header, std::string temp_dir);
  absl::Status OpenCurrentFile();
  absl::Status CloseCurrentFile();

  BridgeStore* store_;
  lip::v1::BridgeRecord header_;
  std::string temp_dir_;     // "" once published or discarded
  size_t file_index_ = 0;    // file being written
  uint64_t file_written_ = 0;
  uint64_t bytes_received_ = 0;
  int fd_ = -1;
  std::vector<std::string> actual_digests_;
  struct HashState;
  std::unique_ptr<HashState> hash_;
};

class BridgeStore {
 public:
  // Opens (creating if needed) the store under options.data_dir and removes
  // leftovers of interrupted uploads.
  static absl::StatusOr<std::unique_ptr<BridgeStore>> Open(const BridgeStoreOptions& options);
  ~BridgeStore();
  BridgeStore(const BridgeStore&) = delete;
  BridgeStore& operator=(const BridgeStore&) = delete;

  // Validates the header and starts an upload.
  absl::StatusOr<std::unique_ptr<BridgeUpload>> BeginUpload(const lip::v1::BridgeRecord& header);

  // The record of (name, version); version 0 = newest of that name.
  absl::StatusOr<lip::v1::BridgeRecord> Get(absl::string_view name, uint32_t version) const;
  // Absolute-or-relative path of one stored file of a record from Get().
  absl::StatusOr<std::string> FilePath(const lip::v1::BridgeRecord& record,
                                       absl::string_view file_name) const;
  // Newest bridge (latest creation, then highest version) whose sender and
  // receiver model names match (and weights digests, where the query sets
  // them) and whose task matches (any task when `task` is empty).
  absl::StatusOr<lip::v1::BridgeRecord> Resolve(const lip::v1::ModelId& sender,
                                                const lip::v1::ModelId& receiver,
                                                absl::string_view task) const;
  // All records (of one name when `name` is non-empty), by name then version.
  absl::StatusOr<std::vector<lip::v1::BridgeRecord>> List(absl::string_view name) const;

  // What Open() removed (for logs and tests).
  int removed_temp_uploads() const { return removed_temp_uploads_; }
  int removed_orphan_blobs() const { return removed_orphan_blobs_; }

 private:
  friend class BridgeUpload;
  explicit BridgeStore(BridgeStoreOptions options);
  absl::Status Initialize();
  absl::StatusOr<lip::v1::BridgeRecord> Publish(lip::v1::BridgeRecord record,
                                                const std::string& temp_dir);
  absl::StatusOr<std::vector<lip::v1::BridgeRecord>> Query(const std::string& sql,
                                                           const std::vector<std::string>& args) const;

  const BridgeStoreOptions options_;
  mutable std::mutex mu_;  // guards db_ and publication
  sqlite3* db_ = nullptr;
  int removed_temp_uploads_ = 0;
  int removed_orphan_blobs_ = 0;
};

}  // namespace lip

#endif  // LIP_SERVER_REGISTRY_BRIDGE_STORE_H_
