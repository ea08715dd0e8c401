// Tensor files the packet tool reads and writes (docs/protocol.md §10):
//   .npy  NumPy format 1.0/2.0/3.0, dtype '<f4' or '<f8' (converted to fp32),
//         C order, shape (rows, cols) or (cols,) (read as one row).
//   raw   little-endian fp32, rows*cols*4 bytes, shape given by the caller.
// Written files are always .npy 1.0, '<f4', C order, 2-D.
//
// Errors: INVALID_ARGUMENT naming the file (or "npy data") and what is wrong;
// I/O errors as in common/wire/binary_file.h. Thread-safe (no shared state).
#ifndef LIP_COMMON_WIRE_TENSOR_FILE_H_
#define LIP_COMMON_WIRE_TENSOR_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lip {

// A rows x cols fp32 matrix, row-major.
struct FloatMatrix {
  int rows = 0;
  int cols = 0;
  std::vector<float> values;
};

// Parses .npy bytes.
absl::StatusOr<FloatMatrix> ParseNpy(absl::string_view bytes);
// Serializes as .npy 1.0 '<f4'. `matrix.values.size()` must equal rows*cols.
std::string EncodeNpy(const FloatMatrix& matrix);

absl::StatusOr<FloatMatrix> ReadNpyFile(const std::string& path);
absl::Status WriteNpyFile(const std::string& path, const FloatMatrix& matrix);

// Reads raw little-endian fp32; the file must hold exactly rows*cols values.
absl::StatusOr<FloatMatrix> ReadRawFloat32File(const std::string& path, int rows, int cols);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_TENSOR_FILE_H_
