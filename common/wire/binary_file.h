// Whole-file byte I/O for packets, tensors and fixtures.
// Functions are thread-safe as long as callers do not write the same path
// concurrently.
#ifndef LIP_COMMON_WIRE_BINARY_FILE_H_
#define LIP_COMMON_WIRE_BINARY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lip {

// The bytes of the file at `path`. NOT_FOUND if it cannot be opened,
// DATA_LOSS on a read error.
absl::StatusOr<std::string> ReadBinaryFile(const std::string& path);

// Replaces the file at `path` with `bytes`. PERMISSION_DENIED / INTERNAL
// naming the path when it cannot be opened or written.
absl::Status WriteBinaryFile(const std::string& path, absl::string_view bytes);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_BINARY_FILE_H_
