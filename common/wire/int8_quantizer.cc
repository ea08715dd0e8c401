#include "common/wire/int8_quantizer.h"

#include <algorithm>
#include <cmath>

namespace lip {
namespace {

// Round half to even without depending on the FPU rounding mode.
float RoundHalfToEven(float x) {
  const float floor_x = std::floor(x);
  const float diff = x - floor_x;
  if (diff > 0.5f) return floor_x + 1.0f;
  if (diff < 0.5f) return floor_x;
  return std::fmod(floor_x, 2.0f) == 0.0f ? floor_x : floor_x + 1.0f;
}

}  // namespace

void QuantizeInt8PerRow(const float* values, size_t rows, size_t cols, int8_t* quantized,
                        float* scales) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = values + r * cols;
    float max_abs = 0.0f;
    for (size_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(row[c]));
    const float scale = (max_abs > 0.0f && std::isfinite(max_abs)) ? max_abs / 127.0f : 1.0f;
    // A tiny max_abs (< 127 * smallest float) would give scale 0: keep it positive.
    scales[r] = scale > 0.0f ? scale : 1.0f;
    for (size_t c = 0; c < cols; ++c) {
      float q = row[c] / scales[r];
      if (std::isnan(q)) q = 0.0f;
      q = std::clamp(RoundHalfToEven(std::clamp(q, -127.0f, 127.0f)), -127.0f, 127.0f);
      quantized[r * cols + c] = static_cast<int8_t>(q);
    }
  }
}

void DequantizeInt8PerRow(const int8_t* quantized, const float* scales, size_t rows, size_t cols,
                          float* values) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      values[r * cols + c] = static_cast<float>(quantized[r * cols + c]) * scales[r];
    }
  }
}

}  // namespace lip
