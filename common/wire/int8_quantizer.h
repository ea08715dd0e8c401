// Symmetric int8 quantization with one scale per row (per soft token), the
// DTYPE_INT8 wire format of LIP (docs/protocol.md §4.4).
//
// For a row x[0..cols):  scale = max|x| / 127  (computed in fp32),
//                        q[j]  = round_half_to_even(x[j] / scale), in [-127, 127],
//                        x'[j] = float(q[j]) * scale  (one fp32 multiply).
// An all-zero row gets scale 1.0 and q = 0, so no scale is ever 0 and the
// decoder never divides. -128 is never produced.
//
// Pure functions; thread-safe. Inputs must be finite (the packet codec checks
// before calling); behaviour for NaN/inf input is to produce q = 0 for NaN and
// saturate at +-127 for inf, never undefined behaviour.
#ifndef LIP_COMMON_WIRE_INT8_QUANTIZER_H_
#define LIP_COMMON_WIRE_INT8_QUANTIZER_H_

#include <cstddef>
#include <cstdint>

namespace lip {

// Quantizes a rows x cols row-major matrix. Writes rows*cols int8 values to
// `quantized` and `rows` scales to `scales`.
void QuantizeInt8PerRow(const float* values, size_t rows, size_t cols, int8_t* quantized,
                        float* scales);

// The inverse: values[r*cols + c] = float(quantized[r*cols + c]) * scales[r].
void DequantizeInt8PerRow(const int8_t* quantized, const float* scales, size_t rows, size_t cols,
                          float* values);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_INT8_QUANTIZER_H_
