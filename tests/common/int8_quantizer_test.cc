#include "common/wire/int8_quantizer.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace lip {
namespace {

TEST(Int8QuantizerTest, ScaleIsMaxAbsOver127AndExtremesMapToPlusMinus127) {
  // max|x| = 31.75 = 127 * 0.25, so the scale is exactly 0.25.
  const std::vector<float> x = {0.5f, -31.75f, 15.875f, 0.0f, 15.625f};
  std::vector<int8_t> q(x.size());
  float scale = 0;
  QuantizeInt8PerRow(x.data(), 1, x.size(), q.data(), &scale);
  EXPECT_EQ(scale, 0.25f);
  EXPECT_EQ(q[0], 2);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 64);  // 63.5 -> ties to even -> 64
  EXPECT_EQ(q[3], 0);
  EXPECT_EQ(q[4], 62);  // 62.5 -> ties to even -> 62
}

TEST(Int8QuantizerTest, RoundsHalfToEven) {
  // With max|x| = 127 the scale is exactly 1, so x / scale = x.
  const std::vector<float> x = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f};
  std::vector<int8_t> q(x.size());
  float scale = 0;
  QuantizeInt8PerRow(x.data(), 1, x.size(), q.data(), &scale);
  ASSERT_EQ(scale, 1.0f);
  EXPECT_EQ(q[1], 0);
  EXPECT_EQ(q[2], 2);
  EXPECT_EQ(q[3], 2);
  EXPECT_EQ(q[4], 0);
  EXPECT_EQ(q[5], -2);
  EXPECT_EQ(q[6], -2);
  EXPECT_EQ(q[7], 3);
}

TEST(Int8QuantizerTest, AllZeroRowGetsScaleOneAndZeros) {
  const std::vector<float> x = {0, 0, 0, 1, -1, 0};
  std::vector<int8_t> q(6);
  float scales[2];
  QuantizeInt8PerRow(x.data(), 2, 3, q.data(), scales);
  EXPECT_EQ(scales[0], 1.0f);
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 0);
  EXPECT_EQ(q[2], 0);
  EXPECT_FLOAT_EQ(scales[1], 1.0f / 127.0f);
  std::vector<float> back(6);
  DequantizeInt8PerRow(q.data(), scales, 2, 3, back.data());
  EXPECT_EQ(back[0], 0.0f);
  EXPECT_FLOAT_EQ(back[3], 1.0f);
  EXPECT_FLOAT_EQ(back[4], -1.0f);
}

TEST(Int8QuantizerTest, ScalesArePerRowAndErrorIsAtMostHalfAStep) {
  const size_t rows = 8, cols = 512;
  std::vector<float> x(rows * cols);
  uint32_t state = 7;
  for (size_t i = 0; i < x.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    x[i] = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * static_cast<float>(1 + (i / cols) * 10);
  }
  std::vector<int8_t> q(x.size());
  std::vector<float> scales(rows), back(x.size());
  QuantizeInt8PerRow(x.data(), rows, cols, q.data(), scales.data());
  DequantizeInt8PerRow(q.data(), scales.data(), rows, cols, back.data());
  for (size_t r = 0; r < rows; ++r) {
    float max_abs = 0;
    for (size_t c = 0; c < cols; ++c) max_abs = std::fmax(max_abs, std::fabs(x[r * cols + c]));
    EXPECT_FLOAT_EQ(scales[r], max_abs / 127.0f) << "row " << r;
    for (size_t c = 0; c < cols; ++c) {
      ASSERT_GE(q[r * cols + c], -127);
      ASSERT_LE(std::fabs(back[r * cols + c] - x[r * cols + c]), scales[r] * 0.5f * 1.0001f)
          << "row " << r << " col " << c;
    }
  }
  EXPECT_GT(scales[7], scales[0] * 10);  // rows are scaled independently
}

TEST(Int8QuantizerTest, NonFiniteInputNeverProducesUndefinedValues) {
  const std::vector<float> x = {NAN, 1.0f, INFINITY, -INFINITY};
  std::vector<int8_t> q(4);
  float scale = 0;
  QuantizeInt8PerRow(x.data(), 1, 4, q.data(), &scale);
  EXPECT_GT(scale, 0.0f);
  for (int8_t v : q) {
    EXPECT_GE(v, -127);
    EXPECT_LE(v, 127);
  }
}

}  // namespace
}  // namespace lip
