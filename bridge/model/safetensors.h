// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
//   8 bytes little-endian u64 N | N bytes JSON header | raw tensor bytes.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative
// to the byte buffer after the header) and may hold "__metadata__": {string: string}.
#ifndef LIP_BRIDGE_MODEL_SAFETENSORS_H_
#define LIP_BRIDGE_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/torch_compat.h"

namespace lip {

// Where one tensor lives inside a safetensors file, as its header declares it.
struct SafetensorsEntry {
  std::string name;
  torch::Dtype dtype = torch::kFloat32;
  std::string dtype_name;  // as written in the header: "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer (after the header)
  uint64_t end = 0;
};

// A safetensors file, memory-mapped read-only-shared (MAP_PRIVATE, so writes through a
// tensor view are copy-on-write and never reach the file). Opening validates the whole
// header: size, JSON, known dtypes, offsets inside the file, byte counts equal to
// numel * element size, no overlapping tensors.
//
// Tensor() returns a CPU tensor that is a view over the mapping (no copy) and keeps the
// mapping alive for as long as the tensor lives, so the SafetensorsFile object itself may be
// destroyed first. A tensor whose bytes are misaligned for its dtype is copied instead.
//
// Thread-safety: after Open, all const methods are safe from several threads.
class SafetensorsFile {
 public:
  // Maps and validates `path`. NOT_FOUND when the file is missing, INVALID_ARGUMENT
  // (naming the offending field/value) when the content is not a valid safetensors file,
  // UNIMPLEMENTED for a dtype LibTorch cannot represent (e.g. F8_E4M3 on LibTorch 1.13).
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensor names in file (offset) order.
  std::vector<std::string> names() const;
  bool Contains(const std::string& name) const { return index_.count(name) > 0; }
  // NOT_FOUND naming the tensor and the file when absent.
  absl::StatusOr<SafetensorsEntry> Entry(const std::string& name) const;
  // Zero-copy CPU view (see class comment). NOT_FOUND when absent.
  absl::StatusOr<torch::Tensor> Tensor(const std::string& name) const;
  // The "__metadata__" map (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t file_size() const;

 private:
  struct Mapping;
  SafetensorsFile() = default;

  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  uint64_t data_start_ = 0;  // 8 + header length
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Tensors in the order they are written.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (any device; moved to CPU and made contiguous) and `metadata` to `path`
// in safetensors format, via a temporary file renamed into place, so readers never see a
// half-written file. INVALID_ARGUMENT for an empty or duplicate name, "__metadata__" as a
// tensor name, or an unsupported dtype; INTERNAL on I/O errors.
absl::Status WriteSafetensors(const std::string& path, const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// "F32" -> kFloat32 etc. UNIMPLEMENTED for dtypes this LibTorch cannot represent,
// INVALID_ARGUMENT for unknown names.
absl::StatusOr<torch::Dtype> SafetensorsDtypeFromName(const std::string& name);
// kFloat32 -> "F32" etc. INVALID_ARGUMENT for dtypes safetensors has no name for.
absl::StatusOr<std::string> SafetensorsDtypeName(torch::Dtype dtype);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_SAFETENSORS_H_
