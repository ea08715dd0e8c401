// Conversions between IEEE 754 binary32 (float) and the two 16-bit wire
// formats of LIP: IEEE 754 binary16 ("fp16") and bfloat16 ("bf16", the upper
// 16 bits of a binary32). docs/protocol.md §4.
//
// float -> 16 bit rounds to nearest, ties to even, the IEEE default: values
// between representable neighbours go to the nearer one; exact midpoints go to
// the one with an even significand. fp16 keeps subnormals (down to 2^-24);
// magnitudes that round above the largest finite value (65504 for fp16,
// ~3.39e38 for bf16) become +-inf; +-inf stay +-inf; NaN stays NaN (quiet, sign
// and the top payload bits kept). 16 bit -> float is exact for every pattern.
//
// Pure functions on bit patterns; thread-safe; no dependency on the host's
// floating-point environment or on _Float16 support.
#ifndef LIP_COMMON_WIRE_HALF_FLOAT_H_
#define LIP_COMMON_WIRE_HALF_FLOAT_H_

#include <cstddef>
#include <cstdint>

namespace lip {

uint16_t FloatToHalfBits(float value);
float HalfBitsToFloat(uint16_t bits);

uint16_t FloatToBfloat16Bits(float value);
float Bfloat16BitsToFloat(uint16_t bits);

// Largest finite fp16 value (0x7BFF).
inline constexpr float kHalfMax = 65504.0f;

// Bulk forms used by the packet codec: `count` values, 2 bytes each written
// or read little-endian at `bytes`.
void FloatsToHalfBytes(const float* values, size_t count, unsigned char* bytes);
void HalfBytesToFloats(const unsigned char* bytes, size_t count, float* values);
void FloatsToBfloat16Bytes(const float* values, size_t count, unsigned char* bytes);
void Bfloat16BytesToFloats(const unsigned char* bytes, size_t count, float* values);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_HALF_FLOAT_H_
