// libFuzzer target for the registry's upload path (server/registry/bridge_store.h):
// a header (lip.v1.BridgeRecord) and data chunks go through BeginUpload,
// Append and Commit of a real BridgeStore on a scratch directory. Whatever the
// bytes, the store must refuse with a documented code (INVALID_ARGUMENT,
// ALREADY_EXISTS, DATA_LOSS) and a message, or publish a record whose files
// read back byte for byte under the digests it lists; never a crash, a
// sanitizer report, a file outside the store, or a half-published bridge.
//
// Input: byte 0 flags, bytes 1-2 the header length L (little endian), then L
// bytes of header, then the file data; each chunk boundary is cut where the
// data holds a 0xFF byte.
//   bit 0: the data is split over header.files by their declared sizes (the
//          last file takes the rest) and each file's size and SHA-256 digest
//          are filled in, so mutated uploads reach Commit and publication;
//   bit 1: also fill in the bridge digest (otherwise the header's is kept).
// The store is reopened on a fresh directory every 500 executions so the disk
// use stays bounded.
//
// Built with -DLIP_FUZZ=ON as lip_bridge_upload_fuzzer; otherwise
// bridge_upload_corpus_test replays tests/fuzz/bridge_upload_corpus/.
// LIP_FUZZ_WRITE_SEEDS=<dir> makes the first call write valid seed uploads there.
#include <openssl/sha.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/registry/bridge_store.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "bridge upload invariant violated: %s\n", what);
    std::abort();
  }
}

std::string Sha256Digest(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// The bridge digest as the store defines it (bridge_store.h): the file digest
// strings of sender.safetensors then receiver.safetensors, or of every file in
// name order when neither is present.
std::string BridgeDigest(const lip::v1::BridgeRecord& header) {
  std::string concatenated;
  bool any_half = false;
  for (const char* half : {"sender.safetensors", "receiver.safetensors"}) {
    for (const auto& f : header.files()) {
      if (f.name() == half) {
        concatenated += f.digest();
        any_half = true;
      }
    }
  }
  if (!any_half) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& f : header.files()) files.emplace_back(f.name(), f.digest());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) concatenated += f.second;
  }
  return Sha256Digest(concatenated);
}

struct Scratch {
  std::string root;
  std::unique_ptr<BridgeStore> store;
  int uses = 0;
};

Scratch& GetScratch() {
  static Scratch scratch;
  if (scratch.store == nullptr || scratch.uses >= 500) {
    scratch.store.reset();
    if (!scratch.root.empty()) fs::remove_all(scratch.root);
    std::string tmpl = (fs::temp_directory_path() / "lip-upload-fuzz-XXXXXX").string();
    Require(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    scratch.root = tmpl;
    BridgeStoreOptions options;
    options.data_dir = scratch.root + "/store";
    options.max_file_bytes = 1 << 16;  // inputs are small; the limits are part of the path
    options.max_bridge_bytes = 1 << 17;
    options.max_files = 8;
    auto store = BridgeStore::Open(options);
    Require(store.ok(), "BridgeStore::Open on a fresh directory");
    scratch.store = std::move(*store);
    scratch.uses = 0;
  }
  ++scratch.uses;
  return scratch;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Checks a published record against what was uploaded.
void CheckPublished(const BridgeStore& store, const lip::v1::BridgeRecord& record,
                    const std::vector<std::string>& file_bytes) {
  Require(record.id().version() >= 1, "published without a version");
  Require(absl::StartsWith(record.id().digest(), "sha256:"), "published without a bridge digest");
  auto got = store.Get(record.id().name(), record.id().version());
  Require(got.ok(), "published record cannot be read back");
  Require(got->files_size() == static_cast<int>(file_bytes.size()), "file count changed");
  for (int i = 0; i < got->files_size(); ++i) {
    auto path = store.FilePath(*got, got->files(i).name());
    Require(path.ok(), "published file has no path");
    const std::string bytes = ReadFile(*path);
    Require(bytes == file_bytes[i], "published file differs from the uploaded bytes");
    Require(Sha256Digest(bytes) == got->files(i).digest(), "published file differs from its digest");
  }
}

void WriteSeeds(const std::string& dir) {
  auto write = [&](const std::string& name, uint8_t flags, const lip::v1::BridgeRecord& header,
                   const std::string& data) {
    const std::string h = header.SerializeAsString();
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.put(static_cast<char>(flags));
    out.put(static_cast<char>(h.size() & 0xFF));
    out.put(static_cast<char>((h.size() >> 8) & 0xFF));
    out << h << data;
  };
  lip::v1::BridgeRecord header;
  header.mutable_id()->set_name("fuzz-bridge");
  header.mutable_sender_model()->set_name("lip-demo/sender-llama");
  header.mutable_receiver_model()->set_name("lip-demo/receiver-qwen2");
  header.set_task("sst2");
  header.set_metadata_json("{\"name\":\"fuzz-bridge\"}");
  const std::string json = "{\"name\":\"fuzz-bridge\",\"task\":\"sst2\"}";
  const std::string weights(40, '\x11');
  auto* f1 = header.add_files();
  f1->set_name("bridge.json");
  f1->set_size_bytes(json.size());
  f1->set_digest(Sha256Digest(json));
  auto* f2 = header.add_files();
  f2->set_name("receiver.safetensors");
  f2->set_size_bytes(weights.size());
  f2->set_digest(Sha256Digest(weights));
  write("two-files-fixed", 3, header, json + weights);
  header.mutable_id()->set_digest(BridgeDigest(header));
  write("two-files-exact", 0, header, json + "\xFF" + weights);
  lip::v1::BridgeRecord one = header;
  one.clear_files();
  *one.add_files() = header.files(0);
  one.mutable_id()->set_digest("");
  one.mutable_id()->set_version(3);
  write("one-file-version", 1, one, json);
}

}  // namespace
}  // namespace lip

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lip;
  static bool initialized = [] {
    google::protobuf::SetLogHandler(nullptr);
    if (const char* dir = std::getenv("LIP_FUZZ_WRITE_SEEDS")) WriteSeeds(dir);
    return true;
  }();
  (void)initialized;
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const size_t header_len = std::min<size_t>(size - 3, data[1] | (size_t{data[2]} << 8));
  lip::v1::BridgeRecord header;
  if (!header.ParseFromArray(data + 3, static_cast<int>(header_len))) return 0;
  const std::string payload(reinterpret_cast<const char*>(data + 3 + header_len), size - 3 - header_len);

  std::vector<std::string> file_bytes;  // what each file will hold, when bit 0 lays it out
  if ((flags & 1) && header.files_size() > 0 && header.files_size() <= 16) {
    std::string rest;
    for (char c : payload) {
      if (c != '\xFF') rest.push_back(c);
    }
    size_t offset = 0;
    for (int i = 0; i < header.files_size(); ++i) {
      const bool last = i + 1 == header.files_size();
      const size_t n = last ? rest.size() - offset
                            : std::min<size_t>(rest.size() - offset, header.files(i).size_bytes());
      file_bytes.push_back(rest.substr(offset, n));
      offset += n;
      header.mutable_files(i)->set_size_bytes(n);
      header.mutable_files(i)->set_digest(Sha256Digest(file_bytes.back()));
    }
    if (flags & 2) header.mutable_id()->set_digest(BridgeDigest(header));
  }

  Scratch& scratch = GetScratch();
  BridgeStore& store = *scratch.store;
  auto upload = store.BeginUpload(header);
  if (!upload.ok()) {
    Require(upload.status().code() == absl::StatusCode::kInvalidArgument, "BeginUpload: unexpected code");
    Require(!upload.status().message().empty(), "BeginUpload: error without a message");
    return 0;
  }
  // Chunks: the payload cut at 0xFF bytes (which are not data).
  absl::Status appended = absl::OkStatus();
  std::string chunk;
  for (size_t i = 0; i <= payload.size() && appended.ok(); ++i) {
    if (i == payload.size() || payload[i] == '\xFF') {
      appended = (*upload)->Append(chunk);
      chunk.clear();
    } else {
      chunk.push_back(payload[i]);
    }
  }
  if (!appended.ok()) {
    Require(appended.code() == absl::StatusCode::kInvalidArgument, "Append: unexpected code");
    Require(!appended.message().empty(), "Append: error without a message");
    return 0;
  }
  auto record = (*upload)->Commit();
  if (!record.ok()) {
    const absl::StatusCode code = record.status().code();
    Require(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kAlreadyExists ||
                code == absl::StatusCode::kDataLoss,
            "Commit: unexpected code");
    Require(!record.status().message().empty(), "Commit: error without a message");
    return 0;
  }
  Require(record->files_size() == header.files_size(), "published file count differs from the header");
  if (!file_bytes.empty()) CheckPublished(store, *record, file_bytes);
  if (!header.id().digest().empty()) Require(record->id().digest() == header.id().digest(), "digest changed");
  return 0;
}
