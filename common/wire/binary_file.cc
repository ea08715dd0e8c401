#include "common/wire/binary_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace lip {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

absl::StatusOr<std::string> ReadBinaryFile(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, n);
  if (std::ferror(file.get())) return absl::DataLossError(absl::StrCat("error reading ", path));
  return bytes;
}

absl::Status WriteBinaryFile(const std::string& path, absl::string_view bytes) {
  File file(std::fopen(path.c_str(), "wb"));
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    return absl::InternalError(absl::StrCat("error writing ", path));
  }
  if (std::fclose(file.release()) != 0) return absl::InternalError(absl::StrCat("error closing ", path));
  return absl::OkStatus();
}

}  // namespace lip
