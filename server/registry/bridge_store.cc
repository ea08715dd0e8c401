#include "server/registry/bridge_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/wire/sha256.h"

namespace lip {
namespace fs = std::filesystem;
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS bridges (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  sender_name TEXT NOT NULL,
  sender_digest TEXT NOT NULL,
  receiver_name TEXT NOT NULL,
  receiver_digest TEXT NOT NULL,
  task TEXT NOT NULL,
  created_unix_nanos INTEGER NOT NULL,
  blob_dir TEXT NOT NULL UNIQUE,
  record BLOB NOT NULL,
  PRIMARY KEY (name, version)
);
)sql";

std::string ErrnoText(int error) { return std::strerror(error); }

// A failed file operation. The disk (or quota, or the process's file size limit) being full is
// RESOURCE_EXHAUSTED: nothing is broken, the upload may be retried once there is room. Anything
// else is INTERNAL.
absl::Status IoError(int error, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", ErrnoText(error));
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    return absl::ResourceExhaustedError(absl::StrCat("registry storage is full (", message, ")"));
  }
  return absl::InternalError(std::move(message));
}

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          static_cast<uint64_t>(absl::GetCurrentTimeNanos()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const uint8_t byte = static_cast<uint8_t>(rng());
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

bool IsDigest(absl::string_view digest) {
  if (!absl::StartsWith(digest, "sha256:") || digest.size() != 7 + 64) return false;
  for (char c : digest.substr(7)) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

bool IsSafeFileName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return IoError(errno, absl::StrCat("open \"", path, "\""));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return IoError(error, absl::StrCat("fsync \"", path, "\""));
  return absl::OkStatus();
}

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  const std::string message = absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db));
  const int code = sqlite3_errcode(db) & 0xff;  // primary code of an extended one
  if (code == SQLITE_FULL) {
    return absl::ResourceExhaustedError(absl::StrCat("registry storage is full (", message, ")"));
  }
  return absl::InternalError(message);
}

// Bridge digest, the same as bridge.json's "digest" (docs/checkpoint.md): the
// digest of the concatenated file digests of sender.safetensors then
// receiver.safetensors (those present). A checkpoint with neither file uses
// all its files in ascending name order.
std::string BridgeDigest(const lip::v1::BridgeRecord& record) {
  std::map<std::string, std::string> by_name;
  for (const auto& file : record.files()) by_name[file.name()] = file.digest();
  std::string joined;
  for (const char* half : {"sender.safetensors", "receiver.safetensors"}) {
    auto it = by_name.find(half);
    if (it != by_name.end()) joined += it->second;
  }
  if (joined.empty()) {
    for (const auto& [name, digest] : by_name) joined += digest;
  }
  return Sha256Digest(joined);
}

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

}  // namespace

struct BridgeUpload::HashState {
  Sha256 sha;
};

// ---- BridgeUpload ------------------------------------------------------------

BridgeUpload::BridgeUpload(BridgeStore* store, lip::v1::BridgeRecord header, std::string temp_dir)
    : store_(store), header_(std::move(header)), temp_dir_(std::move(temp_dir)) {}

BridgeUpload::~BridgeUpload() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(temp_dir_, ignored);
  }
}

absl::Status BridgeUpload::OpenCurrentFile() {
  const std::string path = absl::StrCat(temp_dir_, "/", header_.files(file_index_).name());
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) return IoError(errno, absl::StrCat("create \"", path, "\""));
  file_written_ = 0;
  hash_ = std::make_unique<HashState>();
  return absl::OkStatus();
}

absl::Status BridgeUpload::CloseCurrentFile() {
  const std::string& name = header_.files(file_index_).name();
  if (::fsync(fd_) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    return IoError(error, absl::StrCat("fsync of uploaded \"", name, "\""));
  }
  ::close(fd_);
  fd_ = -1;
  actual_digests_.push_back(hash_->sha.FinishDigest());
  hash_.reset();
  ++file_index_;
  return absl::OkStatus();
}

absl::Status BridgeUpload::Append(absl::string_view data) {
  if (temp_dir_.empty()) return absl::FailedPreconditionError("upload already finished");
  while (!data.empty()) {
    // Files of size zero are complete as soon as they are reached. An open
    // file is always incomplete: a file is closed the moment it fills up.
    while (fd_ < 0 && file_index_ < static_cast<size_t>(header_.files_size()) &&
           header_.files(file_index_).size_bytes() == 0) {
      absl::Status done = OpenCurrentFile();
      if (done.ok()) done = CloseCurrentFile();
      if (!done.ok()) return done;
    }
    if (file_index_ >= static_cast<size_t>(header_.files_size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "upload of bridge \"", header_.id().name(), "\" sent more than the ",
          bytes_received_, " bytes its header declared"));
    }
    if (fd_ < 0) {
      absl::Status opened = OpenCurrentFile();
      if (!opened.ok()) return opened;
    }
    const uint64_t room = header_.files(file_index_).size_bytes() - file_written_;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
    size_t done = 0;
    while (done < take) {
      const ssize_t n = ::write(fd_, data.data() + done, take - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, absl::StrCat("write of uploaded \"",
                                           header_.files(file_index_).name(), "\""));
      }
      done += static_cast<size_t>(n);
    }
    hash_->sha.Update(data.data(), take);
    file_written_ += take;
    bytes_received_ += take;
    data.remove_prefix(take);
    if (file_written_ == header_.files(file_index_).size_bytes()) {
      absl::Status closed = CloseCurrentFile();
      if (!closed.ok()) return closed;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<lip::v1::BridgeRecord> BridgeUpload::Commit() {
  if (temp_dir_.empty()) return absl::FailedPreconditionError("upload already finished");
  // Trailing empty files.
  while (file_index_ < static_cast<size_t>(header_.files_size()) &&
         header_.files(file_index_).size_bytes() == 0) {
    if (fd_ < 0) {
      absl::Status opened = OpenCurrentFile();
      if (!opened.ok()) return opened;
    }
    absl::Status closed = CloseCurrentFile();
    if (!closed.ok()) return closed;
  }
  if (file_index_ < static_cast<size_t>(header_.files_size())) {
    uint64_t expected = 0;
    for (const auto& file : header_.files()) expected += file.size_bytes();
    return absl::InvalidArgumentError(absl::StrCat(
        "upload of bridge \"", header_.id().name(), "\" ended after ", bytes_received_,
        " bytes, header declared ", expected, " (file \"", header_.files(file_index_).name(),
        "\" incomplete)"));
  }
  for (int i = 0; i < header_.files_size(); ++i) {
    if (actual_digests_[i] != header_.files(i).digest()) {
      return absl::DataLossError(absl::StrCat("uploaded file \"", header_.files(i).name(),
                                              "\" has digest ", actual_digests_[i],
                                              ", header declared ", header_.files(i).digest()));
    }
  }
  const std::string digest = BridgeDigest(header_);
  if (!header_.id().digest().empty() && header_.id().digest() != digest) {
    return absl::DataLossError(absl::StrCat("bridge \"", header_.id().name(), "\" has digest ",
                                            digest, ", header declared ", header_.id().digest()));
  }
  header_.mutable_id()->set_digest(digest);
  auto record = store_->Publish(header_, temp_dir_);
  if (record.ok()) temp_dir_.clear();  // now owned by blobs/
  return record;
}

// ---- BridgeStore ---------------------------------------------------------------

BridgeStore::BridgeStore(BridgeStoreOptions options) : options_(std::move(options)) {}

BridgeStore::~BridgeStore() {
  if (db_ != nullptr) sqlite3_close(db_);
}

absl::StatusOr<std::unique_ptr<BridgeStore>> BridgeStore::Open(const BridgeStoreOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("registry data_dir is empty");
  std::unique_ptr<BridgeStore> store(new BridgeStore(options));
  absl::Status status = store->Initialize();
  if (!status.ok()) return status;
  return store;
}

absl::Status BridgeStore::Initialize() {
  std::error_code error;
  for (const char* sub : {"", "/blobs", "/tmp"}) {
    const std::string dir = options_.data_dir + sub;
    fs::create_directories(dir, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create \"", dir, "\": ", error.message()));
    }
  }
  const std::string db_path = options_.data_dir + "/registry.sqlite";
  if (sqlite3_open_v2(db_path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("cannot open SQLite database \"", db_path, "\": ",
                                            db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  sqlite3_busy_timeout(db_, 5000);
  char* message = nullptr;
  for (const char* sql : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", kSchema}) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown";
      sqlite3_free(message);
      return absl::InternalError(absl::StrCat("SQLite \"", db_path, "\": ", text));
    }
  }

  // Interrupted uploads: everything under tmp/.
  for (const auto& entry : fs::directory_iterator(options_.data_dir + "/tmp", error)) {
    fs::remove_all(entry.path(), error);
    ++removed_temp_uploads_;
  }
  // Blob directories that were renamed into place but whose row never committed.
  std::set<std::string> referenced;
  {
    Statement select;
    if (sqlite3_prepare_v2(db_, "SELECT blob_dir FROM bridges", -1, &select.stmt, nullptr) !=
        SQLITE_OK) {
      return SqliteError(db_, "select blob_dir");
    }
    while (sqlite3_step(select.stmt) == SQLITE_ROW) {
      referenced.insert(reinterpret_cast<const char*>(sqlite3_column_text(select.stmt, 0)));
    }
  }
  for (const auto& entry : fs::directory_iterator(options_.data_dir + "/blobs", error)) {
    if (referenced.count(entry.path().filename().string()) == 0) {
      fs::remove_all(entry.path(), error);
      ++removed_orphan_blobs_;
    }
  }
  return FsyncPath(options_.data_dir + "/blobs", /*directory=*/true);
}

absl::StatusOr<std::unique_ptr<BridgeUpload>> BridgeStore::BeginUpload(
    const lip::v1::BridgeRecord& header) {
  const std::string& name = header.id().name();
  if (name.empty() || name.size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("bridge name must be 1..256 bytes, got ", name.size()));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(
          absl::StrCat("bridge name \"", absl::CEscape(name), "\" contains control characters"));
    }
  }
  if (header.sender_model().name().empty() || header.receiver_model().name().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bridge \"", name, "\" must name its sender_model and receiver_model (got \"",
        header.sender_model().name(), "\" and \"", header.receiver_model().name(), "\")"));
  }
  if (header.files_size() == 0 || header.files_size() > static_cast<int>(options_.max_files)) {
    return absl::InvalidArgumentError(absl::StrCat("bridge \"", name, "\" has ",
                                                   header.files_size(), " files, expected 1..",
                                                   options_.max_files));
  }
  std::set<std::string> seen;
  uint64_t total = 0;
  for (const auto& file : header.files()) {
    if (!IsSafeFileName(file.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bridge file name \"", absl::CEscape(file.name()),
          "\" is not a plain file name ([A-Za-z0-9._-], at most 128 bytes)"));
    }
    if (!seen.insert(file.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("bridge file \"", file.name(), "\" is listed twice"));
    }
    if (!IsDigest(file.digest())) {
      return absl::InvalidArgumentError(absl::StrCat("bridge file \"", file.name(), "\" has digest \"",
                                                     absl::CEscape(file.digest()),
                                                     "\", expected sha256:<64 lowercase hex>"));
    }
    if (file.size_bytes() > options_.max_file_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("bridge file \"", file.name(), "\" is ",
                                                     file.size_bytes(), " bytes, limit ",
                                                     options_.max_file_bytes));
    }
    total += file.size_bytes();
  }
  if (total > options_.max_bridge_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("bridge \"", name, "\" is ", total,
                                                   " bytes, limit ", options_.max_bridge_bytes));
  }
  if (!header.id().digest().empty() && !IsDigest(header.id().digest())) {
    return absl::InvalidArgumentError(absl::StrCat("bridge digest \"", absl::CEscape(header.id().digest()),
                                                   "\" is not sha256:<64 lowercase hex>"));
  }
  const std::string temp_dir = absl::StrCat(options_.data_dir, "/tmp/", RandomHex(16));
  std::error_code error;
  if (!fs::create_directory(temp_dir, error)) {
    return IoError(error ? error.value() : EEXIST, absl::StrCat("cannot create \"", temp_dir, "\""));
  }
  return std::unique_ptr<BridgeUpload>(new BridgeUpload(this, header, temp_dir));
}

absl::StatusOr<lip::v1::BridgeRecord> BridgeStore::Publish(lip::v1::BridgeRecord record,
                                                           const std::string& temp_dir) {
  absl::Status synced = FsyncPath(temp_dir, /*directory=*/true);
  if (!synced.ok()) return synced;
  const std::string blob_id = fs::path(temp_dir).filename().string();
  const std::string blob_dir = absl::StrCat(options_.data_dir, "/blobs/", blob_id);

  std::lock_guard<std::mutex> lock(mu_);
  uint32_t version = record.id().version();
  {
    Statement select;
    sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(version), 0) FROM bridges WHERE name = ?", -1,
                       &select.stmt, nullptr);
    sqlite3_bind_text(select.stmt, 1, record.id().name().c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(select.stmt) != SQLITE_ROW) return SqliteError(db_, "select max version");
    const uint32_t newest = static_cast<uint32_t>(sqlite3_column_int64(select.stmt, 0));
    if (version == 0) {
      version = newest + 1;
    }
  }
  record.mutable_id()->set_version(version);
  record.set_created_unix_nanos(absl::GetCurrentTimeNanos());

  if (::rename(temp_dir.c_str(), blob_dir.c_str()) != 0) {
    return IoError(errno, absl::StrCat("rename \"", temp_dir, "\" -> \"", blob_dir, "\""));
  }
  synced = FsyncPath(options_.data_dir + "/blobs", /*directory=*/true);
  if (synced.ok()) synced = FsyncPath(options_.data_dir + "/tmp", /*directory=*/true);
  if (!synced.ok()) {
    std::error_code ignored;
    fs::remove_all(blob_dir, ignored);
    return synced;
  }

  Statement insert;
  sqlite3_prepare_v2(db_,
                     "INSERT INTO bridges (name, version, sender_name, sender_digest, "
                     "receiver_name, receiver_digest, task, created_unix_nanos, blob_dir, record) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     -1, &insert.stmt, nullptr);
  const std::string serialized = record.SerializeAsString();
  sqlite3_bind_text(insert.stmt, 1, record.id().name().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert.stmt, 2, version);
  sqlite3_bind_text(insert.stmt, 3, record.sender_model().name().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.stmt, 4, record.sender_model().weights_digest().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.stmt, 5, record.receiver_model().name().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.stmt, 6, record.receiver_model().weights_digest().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.stmt, 7, record.task().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert.stmt, 8, record.created_unix_nanos());
  sqlite3_bind_text(insert.stmt, 9, blob_id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(insert.stmt, 10, serialized.data(), static_cast<int>(serialized.size()),
                    SQLITE_TRANSIENT);
  const int rc = sqlite3_step(insert.stmt);
  if (rc != SQLITE_DONE) {
    const bool taken = sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY;
    absl::Status status =
        taken ? absl::AlreadyExistsError(absl::StrCat("bridge \"", record.id().name(),
                                                      "\" version ", version, " already exists"))
              : SqliteError(db_, "insert bridge");
    std::error_code ignored;
    fs::remove_all(blob_dir, ignored);
    return status;
  }
  return record;
}

absl::StatusOr<std::vector<lip::v1::BridgeRecord>> BridgeStore::Query(
    const std::string& sql, const std::vector<std::string>& args) const {
  std::lock_guard<std::mutex> lock(mu_);
  Statement select;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &select.stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare query");
  }
  for (size_t i = 0; i < args.size(); ++i) {
    sqlite3_bind_text(select.stmt, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<lip::v1::BridgeRecord> records;
  int rc;
  while ((rc = sqlite3_step(select.stmt)) == SQLITE_ROW) {
    lip::v1::BridgeRecord record;
    const void* blob = sqlite3_column_blob(select.stmt, 0);
    const int size = sqlite3_column_bytes(select.stmt, 0);
    if (!record.ParseFromArray(blob, size)) {
      return absl::DataLossError("a registry row holds an unparseable BridgeRecord");
    }
    records.push_back(std::move(record));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "query");
  return records;
}

absl::StatusOr<lip::v1::BridgeRecord> BridgeStore::Get(absl::string_view name,
                                                       uint32_t version) const {
  auto records =
      version == 0
          ? Query("SELECT record FROM bridges WHERE name = ? ORDER BY version DESC LIMIT 1",
                  {std::string(name)})
          : Query("SELECT record FROM bridges WHERE name = ? AND version = ?",
                  {std::string(name), absl::StrCat(version)});
  if (!records.ok()) return records.status();
  if (records->empty()) {
    return absl::NotFoundError(absl::StrCat("no bridge \"", name, "\"",
                                            version == 0 ? "" : absl::StrCat(" version ", version)));
  }
  return records->front();
}

absl::StatusOr<std::string> BridgeStore::FilePath(const lip::v1::BridgeRecord& record,
                                                  absl::string_view file_name) const {
  bool listed = false;
  for (const auto& file : record.files()) listed = listed || file.name() == file_name;
  if (!listed) {
    return absl::NotFoundError(absl::StrCat("bridge \"", record.id().name(), "\" version ",
                                            record.id().version(), " has no file \"", file_name,
                                            "\""));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Statement select;
  sqlite3_prepare_v2(db_, "SELECT blob_dir FROM bridges WHERE name = ? AND version = ?", -1,
                     &select.stmt, nullptr);
  sqlite3_bind_text(select.stmt, 1, record.id().name().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(select.stmt, 2, record.id().version());
  if (sqlite3_step(select.stmt) != SQLITE_ROW) {
    return absl::NotFoundError(absl::StrCat("no bridge \"", record.id().name(), "\" version ",
                                            record.id().version()));
  }
  return absl::StrCat(options_.data_dir, "/blobs/",
                      reinterpret_cast<const char*>(sqlite3_column_text(select.stmt, 0)), "/",
                      file_name);
}

absl::StatusOr<lip::v1::BridgeRecord> BridgeStore::Resolve(const lip::v1::ModelId& sender,
                                                           const lip::v1::ModelId& receiver,
                                                           absl::string_view task) const {
  std::string sql =
      "SELECT record FROM bridges WHERE sender_name = ? AND receiver_name = ?";
  std::vector<std::string> args = {sender.name(), receiver.name()};
  if (!sender.weights_digest().empty()) {
    sql += " AND sender_digest = ?";
    args.push_back(sender.weights_digest());
  }
  if (!receiver.weights_digest().empty()) {
    sql += " AND receiver_digest = ?";
    args.push_back(receiver.weights_digest());
  }
  if (!task.empty()) {
    sql += " AND task = ?";
    args.push_back(std::string(task));
  }
  sql += " ORDER BY created_unix_nanos DESC, version DESC LIMIT 1";
  auto records = Query(sql, args);
  if (!records.ok()) return records.status();
  if (records->empty()) {
    return absl::NotFoundError(absl::StrCat("no bridge from \"", sender.name(), "\" to \"",
                                            receiver.name(), "\"",
                                            task.empty() ? "" : absl::StrCat(" for task \"", task, "\"")));
  }
  return records->front();
}

absl::StatusOr<std::vector<lip::v1::BridgeRecord>> BridgeStore::List(absl::string_view name) const {
  if (name.empty()) return Query("SELECT record FROM bridges ORDER BY name, version", {});
  return Query("SELECT record FROM bridges WHERE name = ? ORDER BY version", {std::string(name)});
}

}  // namespace lip
