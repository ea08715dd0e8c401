#include "common/wire/tensor_file.h"

#include <cstdio>
#include <string>

#include "common/wire/binary_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/tensor_file_test_" + name;
}

TEST(TensorFileTest, NpyRoundTripAndHeaderAlignment) {
  FloatMatrix m;
  m.rows = 3;
  m.cols = 5;
  for (int i = 0; i < 15; ++i) m.values.push_back(static_cast<float>(i) * -0.25f);
  const std::string bytes = EncodeNpy(m);
  // magic(6) version(2) length(2) header: total header size is a multiple of 64.
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + header_len + 15 * 4);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  absl::StatusOr<FloatMatrix> back = ParseNpy(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, 3);
  EXPECT_EQ(back->cols, 5);
  EXPECT_EQ(back->values, m.values);
}

// Bytes exactly as numpy 1.x writes np.array([[1.5, -2.0]], dtype='<f8') with np.save.
TEST(TensorFileTest, ReadsFloat64NpyAsWrittenByNumpy) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }";
  header.append(128 - 10 - header.size() - 1, ' ');  // pad to 128 bytes in total
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  const double values[2] = {1.5, -2.0};
  bytes.append(reinterpret_cast<const char*>(values), sizeof values);
  absl::StatusOr<FloatMatrix> m = ParseNpy(bytes);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 1);
  EXPECT_EQ(m->cols, 2);
  EXPECT_EQ(m->values[0], 1.5f);
  EXPECT_EQ(m->values[1], -2.0f);
}

TEST(TensorFileTest, OneDimensionalIsOneRow) {
  FloatMatrix m{1, 4, {1, 2, 3, 4}};
  std::string bytes = EncodeNpy(m);
  const size_t at = bytes.find("(1, 4)");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 6, "(4,)  ");
  absl::StatusOr<FloatMatrix> back = ParseNpy(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, 1);
  EXPECT_EQ(back->cols, 4);
}

TEST(TensorFileTest, RejectsBadNpy) {
  FloatMatrix m{2, 2, {1, 2, 3, 4}};
  const std::string good = EncodeNpy(m);
  EXPECT_THAT(std::string(ParseNpy("not numpy").status().message()), HasSubstr("NumPy magic"));
  std::string wrong_dtype = good;
  wrong_dtype.replace(wrong_dtype.find("<f4"), 3, "<i4");
  EXPECT_THAT(std::string(ParseNpy(wrong_dtype).status().message()), HasSubstr("dtype '<i4' is not supported"));
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THAT(std::string(ParseNpy(fortran).status().message()), HasSubstr("fortran_order"));
  EXPECT_THAT(std::string(ParseNpy(good.substr(0, good.size() - 1)).status().message()),
              HasSubstr("payload is 15 bytes, expected 2*2*4 = 16"));
  std::string three_d = good;
  three_d.replace(three_d.find("(2, 2)"), 6, "(1,2,2)");
  EXPECT_FALSE(ParseNpy(three_d).ok());
}

TEST(TensorFileTest, RawFloat32) {
  const float values[6] = {1, 2, 3, 4, 5, 6};
  const std::string path = TempPath("raw.f32");
  ASSERT_TRUE(WriteBinaryFile(path, std::string(reinterpret_cast<const char*>(values), sizeof values)).ok());
  absl::StatusOr<FloatMatrix> m = ReadRawFloat32File(path, 2, 3);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->values[5], 6.0f);
  absl::StatusOr<FloatMatrix> wrong = ReadRawFloat32File(path, 4, 3);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("is 24 bytes, expected rows*cols*4 = 4*3*4 = 48"));
  std::remove(path.c_str());
}

TEST(TensorFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadNpyFile(TempPath("does-not-exist.npy")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lip
