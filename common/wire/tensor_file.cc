#include "common/wire/tensor_file.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/wire/binary_file.h"

namespace lip {
namespace {

constexpr absl::string_view kNpyMagic = "\x93NUMPY";
constexpr int kMaxDimension = 1 << 24;

absl::Status NpyError(absl::string_view what) { return absl::InvalidArgumentError(absl::StrCat("npy data: ", what)); }

// Value of `key` in the header dict, up to the next top-level ',' or '}',
// e.g. "'<f4'" or "(8, 512)".
absl::StatusOr<absl::string_view> DictValue(absl::string_view header, absl::string_view key) {
  const std::string quoted = absl::StrCat("'", key, "'");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) return NpyError(absl::StrCat("header has no ", quoted, " key"));
  size_t pos = header.find(':', at + quoted.size());
  if (pos == absl::string_view::npos) return NpyError(absl::StrCat("header key ", quoted, " has no value"));
  ++pos;
  int depth = 0;
  size_t end = pos;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  return absl::StripAsciiWhitespace(header.substr(pos, end - pos));
}

}  // namespace

absl::StatusOr<FloatMatrix> ParseNpy(absl::string_view bytes) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != kNpyMagic) {
    return NpyError("does not start with the NumPy magic \\x93NUMPY");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return NpyError("truncated header length");
    header_len = 0;
    for (int k = 0; k < 4; ++k) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
    offset = 12;
  } else {
    return NpyError(absl::StrCat("format version ", major, " is not supported (1, 2 or 3)"));
  }
  if (header_len > bytes.size() - offset) {
    return NpyError(absl::StrCat("header length ", header_len, " runs past the end of the ", bytes.size(), " bytes"));
  }
  const absl::string_view header = bytes.substr(offset, header_len);
  const absl::string_view payload = bytes.substr(offset + header_len);

  absl::StatusOr<absl::string_view> descr = DictValue(header, "descr");
  if (!descr.ok()) return descr.status();
  size_t element_size;
  if (*descr == "'<f4'") {
    element_size = 4;
  } else if (*descr == "'<f8'") {
    element_size = 8;
  } else {
    return NpyError(absl::StrCat("dtype ", *descr, " is not supported; use '<f4' (float32) or '<f8' (float64)"));
  }
  absl::StatusOr<absl::string_view> fortran = DictValue(header, "fortran_order");
  if (!fortran.ok()) return fortran.status();
  if (*fortran != "False") return NpyError("fortran_order arrays are not supported; save a C-ordered array");
  absl::StatusOr<absl::string_view> shape_text = DictValue(header, "shape");
  if (!shape_text.ok()) return shape_text.status();
  absl::string_view shape = *shape_text;
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    return NpyError(absl::StrCat("shape ", shape, " is not a tuple"));
  }
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(shape.substr(1, shape.size() - 2), ',', absl::SkipWhitespace())) {
    int64_t dim;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &dim) || dim < 1 || dim > kMaxDimension) {
      return NpyError(absl::StrCat("shape ", shape, " has a bad dimension \"", part, "\" (each must be 1..", kMaxDimension, ")"));
    }
    dims.push_back(dim);
  }
  FloatMatrix matrix;
  if (dims.size() == 1) {
    matrix.rows = 1;
    matrix.cols = static_cast<int>(dims[0]);
  } else if (dims.size() == 2) {
    matrix.rows = static_cast<int>(dims[0]);
    matrix.cols = static_cast<int>(dims[1]);
  } else {
    return NpyError(absl::StrCat("shape ", shape, " has ", dims.size(), " dimensions; expected 2 (rows, cols) or 1"));
  }
  const uint64_t count = static_cast<uint64_t>(matrix.rows) * static_cast<uint64_t>(matrix.cols);
  if (payload.size() != count * element_size) {
    return NpyError(absl::StrCat("payload is ", payload.size(), " bytes, expected ", matrix.rows, "*", matrix.cols,
                                 "*", element_size, " = ", count * element_size));
  }
  matrix.values.resize(count);
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t bits = 0;
    for (size_t k = 0; k < element_size; ++k) bits |= static_cast<uint64_t>(p[i * element_size + k]) << (8 * k);
    if (element_size == 4) {
      const uint32_t b32 = static_cast<uint32_t>(bits);
      std::memcpy(&matrix.values[i], &b32, 4);
    } else {
      double d;
      std::memcpy(&d, &bits, 8);
      matrix.values[i] = static_cast<float>(d);
    }
  }
  return matrix;
}

std::string EncodeNpy(const FloatMatrix& matrix) {
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", matrix.rows, ", ", matrix.cols, "), }");
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kNpyMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  for (float v : matrix.values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
  }
  return out;
}

absl::StatusOr<FloatMatrix> ReadNpyFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadBinaryFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<FloatMatrix> matrix = ParseNpy(*bytes);
  if (!matrix.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", matrix.status().message()));
  return matrix;
}

absl::Status WriteNpyFile(const std::string& path, const FloatMatrix& matrix) {
  return WriteBinaryFile(path, EncodeNpy(matrix));
}

absl::StatusOr<FloatMatrix> ReadRawFloat32File(const std::string& path, int rows, int cols) {
  if (rows < 1 || cols < 1) {
    return absl::InvalidArgumentError(absl::StrCat("raw tensor shape ", rows, " x ", cols, " must be at least 1 x 1"));
  }
  absl::StatusOr<std::string> bytes = ReadBinaryFile(path);
  if (!bytes.ok()) return bytes.status();
  const uint64_t expected = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) * 4;
  if (bytes->size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is ", bytes->size(), " bytes, expected rows*cols*4 = ", rows,
                                                   "*", cols, "*4 = ", expected, " for raw little-endian fp32"));
  }
  FloatMatrix matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  matrix.values.resize(static_cast<size_t>(rows) * cols);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes->data());
  for (size_t i = 0; i < matrix.values.size(); ++i) {
    const uint32_t b = uint32_t{p[4 * i]} | uint32_t{p[4 * i + 1]} << 8 | uint32_t{p[4 * i + 2]} << 16 |
                       uint32_t{p[4 * i + 3]} << 24;
    std::memcpy(&matrix.values[i], &b, 4);
  }
  return matrix;
}

}  // namespace lip
