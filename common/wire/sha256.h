// SHA-256 digests in the form LIP uses on the wire: "sha256:<64 lowercase hex>".
// Used for model weight digests, bridge checkpoint digests and registry blobs.
#ifndef LIP_COMMON_WIRE_SHA256_H_
#define LIP_COMMON_WIRE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

// Incremental SHA-256. Not thread-safe; one instance per stream of bytes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  // Returns "sha256:<hex>". The object must not be updated afterwards.
  std::string FinishDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "sha256:<hex>" of a byte string.
std::string Sha256Digest(std::string_view bytes);

// "sha256:<hex>" of a file's contents, streamed. NOT_FOUND / INTERNAL on I/O errors.
absl::StatusOr<std::string> Sha256DigestOfFile(const std::string& path);

// "sha256:<hex>" over several files in the given order: the digest of the
// concatenation of each file's own digest string. Used for sharded weights.
absl::StatusOr<std::string> Sha256DigestOfFiles(const std::vector<std::string>& paths);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_SHA256_H_
