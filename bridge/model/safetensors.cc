#include "bridge/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// Refuse headers above 100 MB, as the reference implementation does; real headers are KBs.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

struct DtypeName {
  const char* name;
  torch::Dtype dtype;
};

const DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
    {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

// Names the format defines that LibTorch 1.13 has no dtype for.
const char* const kKnownButUnsupported[] = {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2"};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace

absl::StatusOr<torch::Dtype> SafetensorsDtypeFromName(const std::string& name) {
  for (const DtypeName& d : kDtypes) {
    if (name == d.name) return d.dtype;
  }
  for (const char* n : kKnownButUnsupported) {
    if (name == n) {
      return absl::UnimplementedError(
          absl::StrCat("safetensors dtype \"", name, "\" is not supported by this LibTorch"));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown safetensors dtype \"", name, "\""));
}

absl::StatusOr<std::string> SafetensorsDtypeName(torch::Dtype dtype) {
  for (const DtypeName& d : kDtypes) {
    if (dtype == d.dtype) return std::string(d.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor dtype ", std::string(c10::toString(dtype)), " has no safetensors name"));
}

// The mmap'ed bytes of one file. Unmapped when the last tensor view and the file object are gone.
struct SafetensorsFile::Mapping {
  void* base = nullptr;
  uint64_t size = 0;
  ~Mapping() {
    if (base != nullptr && size > 0) munmap(base, size);
  }
};

SafetensorsFile::~SafetensorsFile() = default;

uint64_t SafetensorsFile::file_size() const { return mapping_ ? mapping_->size : 0; }

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("safetensors file not found: ", path));
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(err)));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file is ", size, " bytes, too short for the 8-byte header length"));
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int map_err = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("cannot mmap ", path, ": ", std::strerror(map_err)));
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->base = base;
  mapping->size = size;
  const auto* bytes = static_cast<const uint8_t*>(base);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes));
  }
  if (header_len > size - 8) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_len,
                                                   " exceeds the file size ", size, " - 8"));
  }
  nlohmann::json header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len, nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header is not a JSON object"));
  }

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = mapping;
  file->data_start_ = 8 + header_len;
  const uint64_t data_size = size - file->data_start_;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": __metadata__ is not an object"));
      }
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": __metadata__ value for \"", m.key(), "\" is not a string"));
        }
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets") || !v["dtype"].is_string() || !v["shape"].is_array() ||
        !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor \"", name, "\" needs dtype (string), shape (array), data_offsets ([begin,end])"));
    }
    SafetensorsEntry e;
    e.name = name;
    e.dtype_name = v["dtype"].get<std::string>();
    absl::StatusOr<torch::Dtype> dtype = SafetensorsDtypeFromName(e.dtype_name);
    if (!dtype.ok()) {
      return absl::Status(dtype.status().code(),
                          absl::StrCat(path, ": tensor \"", name, "\": ", dtype.status().message()));
    }
    e.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor \"", name, "\" has a shape entry that is not a non-negative integer"));
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", name, "\" shape overflows"));
      }
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"]) {
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor \"", name, "\" has a data offset that is not a non-negative integer"));
      }
    }
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", name, "\" data_offsets [",
                                                     e.begin, ",", e.end, ") lie outside the ",
                                                     data_size, "-byte data buffer"));
    }
    const uint64_t expected = numel * c10::elementSize(e.dtype);
    if (e.end - e.begin != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor \"", name, "\" has ", e.end - e.begin, " bytes, expected numel(",
          ShapeString(e.shape), ") * ", c10::elementSize(e.dtype), " = ", expected));
    }
    file->entries_.push_back(std::move(e));
  }
  std::sort(file->entries_.begin(), file->entries_.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  for (size_t i = 0; i < file->entries_.size(); ++i) {
    if (i > 0 && file->entries_[i].begin < file->entries_[i - 1].end) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensors \"", file->entries_[i - 1].name,
                                                     "\" and \"", file->entries_[i].name,
                                                     "\" overlap"));
    }
    file->index_[file->entries_[i].name] = i;
  }
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

absl::StatusOr<SafetensorsEntry> SafetensorsFile::Entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("tensor \"", name, "\" not in ", path_));
  }
  return entries_[it->second];
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("tensor \"", name, "\" not in ", path_));
  }
  const SafetensorsEntry& e = entries_[it->second];
  auto* data = static_cast<uint8_t*>(mapping_->base) + data_start_ + e.begin;
  const auto options = torch::TensorOptions().dtype(e.dtype).device(torch::kCPU);
  const size_t elem = c10::elementSize(e.dtype);
  if (e.end == e.begin) return torch::empty(e.shape, options);
  if (reinterpret_cast<uintptr_t>(data) % elem != 0) {
    // Misaligned for its dtype (legal in the format, rare in practice): copy into an aligned tensor.
    torch::Tensor out = torch::empty(e.shape, options);
    std::memcpy(out.data_ptr(), data, e.end - e.begin);
    return out;
  }
  std::shared_ptr<Mapping> keep_alive = mapping_;
  return torch::from_blob(
      data, e.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
}

absl::Status WriteSafetensors(const std::string& path, const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::vector<torch::Tensor> cpu;
  cpu.reserve(tensors.size());
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat("invalid tensor name \"", name, "\""));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor name \"", name, "\""));
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\" is undefined"));
    }
    absl::StatusOr<std::string> dtype_name = SafetensorsDtypeName(tensor.scalar_type());
    if (!dtype_name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", name, "\": ", dtype_name.status().message()));
    }
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", *dtype_name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(std::move(t));
  }
  std::string header_text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
  while ((8 + header_text.size()) % 8 != 0) header_text.push_back(' ');

  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  uint8_t len_bytes[8];
  uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  bool ok = std::fwrite(len_bytes, 1, 8, f) == 8 &&
            std::fwrite(header_text.data(), 1, header_text.size(), f) == header_text.size();
  for (size_t i = 0; ok && i < cpu.size(); ++i) {
    const size_t nbytes = static_cast<size_t>(cpu[i].numel()) * cpu[i].element_size();
    if (nbytes > 0) ok = std::fwrite(cpu[i].data_ptr(), 1, nbytes, f) == nbytes;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("write to ", tmp, " failed: ", std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace lip
