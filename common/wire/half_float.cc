// Bit-level fp16 / bf16 conversions. All arithmetic is on integers, so the
// result never depends on the FPU rounding mode or flush-to-zero settings.
#include "common/wire/half_float.h"

#include <cstring>

namespace lip {
namespace {

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Shifts `value` right by `shift` (1..31) rounding to nearest, ties to even.
uint32_t ShiftRightRoundEven(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t dropped = value & ((uint32_t{1} << shift) - 1);
  const uint32_t half = uint32_t{1} << (shift - 1);
  if (dropped > half || (dropped == half && (kept & 1u))) return kept + 1;
  return kept;
}

}  // namespace

uint16_t FloatToHalfBits(float value) {
  const uint32_t f = FloatBits(value);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000u);
  const int32_t exponent = static_cast<int32_t>((f >> 23) & 0xFFu);
  const uint32_t mantissa = f & 0x7FFFFFu;

  if (exponent == 0xFF) {  // inf or NaN
    if (mantissa == 0) return sign | 0x7C00u;
    // Keep the top payload bits, force the quiet bit so the result is a NaN.
    return static_cast<uint16_t>(sign | 0x7E00u | (mantissa >> 13));
  }
  // Unbiased exponent e: value = 1.m * 2^e. fp16 normals have e in [-14, 15].
  const int32_t e = exponent - 127;
  if (e > 15) return sign | 0x7C00u;  // at least 2^16: overflows to inf
  if (e >= -14) {
    // Normal: 10 mantissa bits; rounding may carry into the exponent (and
    // from 0x7BFF into inf, which is exactly the IEEE overflow rule).
    const uint32_t magnitude = (static_cast<uint32_t>(e + 15) << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1FFFu;
    uint32_t rounded = magnitude;
    if (rest > 0x1000u || (rest == 0x1000u && (magnitude & 1u))) ++rounded;
    return static_cast<uint16_t>(sign | rounded);
  }
  // Subnormal or zero in fp16: value = m_half * 2^-24 with m_half < 1024.
  // The full significand (with hidden bit, or none for float subnormals)
  // is 24 bits scaled by 2^(e-23); shift it to units of 2^-24.
  if (exponent == 0) return sign;  // float zero or subnormal (< 2^-126): rounds to 0
  const uint32_t significand = mantissa | 0x800000u;
  const int shift = -e - 1;  // significand * 2^(e-23) = (significand >> shift) * 2^-24
  if (shift > 24) return sign;  // below half of the smallest subnormal
  return static_cast<uint16_t>(sign | ShiftRightRoundEven(significand, shift));
}

float HalfBitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) {  // inf or NaN: payload moves to the top of the float mantissa
    return BitsToFloat(sign | 0x7F800000u | (mantissa << 13));
  }
  if (exponent != 0) {
    return BitsToFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return BitsToFloat(sign);
  // fp16 subnormal m * 2^-24: normalize into a float normal.
  int32_t e = -14;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  mantissa &= 0x3FFu;
  return BitsToFloat(sign | (static_cast<uint32_t>(e + 127) << 23) | (mantissa << 13));
}

uint16_t FloatToBfloat16Bits(float value) {
  const uint32_t f = FloatBits(value);
  if ((f & 0x7F800000u) == 0x7F800000u && (f & 0x7FFFFFu) != 0) {
    return static_cast<uint16_t>((f >> 16) | 0x0040u);  // NaN: keep sign/payload top, set quiet bit
  }
  // Round the low 16 bits away, ties to even. A carry out of the mantissa
  // bumps the exponent; from the largest finite value it yields inf.
  const uint32_t lsb = (f >> 16) & 1u;
  return static_cast<uint16_t>((f + 0x7FFFu + lsb) >> 16);
}

float Bfloat16BitsToFloat(uint16_t bits) { return BitsToFloat(static_cast<uint32_t>(bits) << 16); }

namespace {

// The bulk forms share one loop each way; `convert` is the per-value function.
template <typename Convert>
void FloatsTo16BitBytes(const float* values, size_t count, unsigned char* bytes, Convert convert) {
  for (size_t i = 0; i < count; ++i) {
    const uint16_t bits = convert(values[i]);
    bytes[2 * i] = static_cast<unsigned char>(bits & 0xFFu);
    bytes[2 * i + 1] = static_cast<unsigned char>(bits >> 8);
  }
}

template <typename Convert>
void SixteenBitBytesToFloats(const unsigned char* bytes, size_t count, float* values, Convert convert) {
  for (size_t i = 0; i < count; ++i) {
    values[i] = convert(static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
  }
}

}  // namespace

void FloatsToHalfBytes(const float* values, size_t count, unsigned char* bytes) {
  FloatsTo16BitBytes(values, count, bytes, FloatToHalfBits);
}

void HalfBytesToFloats(const unsigned char* bytes, size_t count, float* values) {
  SixteenBitBytesToFloats(bytes, count, values, HalfBitsToFloat);
}

void FloatsToBfloat16Bytes(const float* values, size_t count, unsigned char* bytes) {
  FloatsTo16BitBytes(values, count, bytes, FloatToBfloat16Bits);
}

void Bfloat16BytesToFloats(const unsigned char* bytes, size_t count, float* values) {
  SixteenBitBytesToFloats(bytes, count, values, Bfloat16BitsToFloat);
}

}  // namespace lip
