// Exhaustive checks of the fp16 / bf16 conversions against references written
// independently of common/wire/half_float.cc:
//  - 16 bit -> float: every one of the 65,536 patterns is decoded by exact
//    arithmetic (sign * significand * 2^exponent in double, std::ldexp).
//  - float -> 16 bit: every finite pattern round-trips; every midpoint between
//    neighbours goes to the even one and its float neighbours go to the nearer
//    one; a strided sweep over all 2^32 float patterns is compared with an
//    exhaustive nearest-value search; and, where the compiler has _Float16,
//    with the compiler's own conversion on all patterns both ways.
#include "common/wire/half_float.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace lip {
namespace {

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// A 16-bit format with `mantissa_bits` fraction bits and exponent bias `bias`.
struct Format {
  int mantissa_bits;
  int exponent_bits;
  int bias;
};
constexpr Format kHalf{10, 5, 15};
constexpr Format kBfloat16{7, 8, 127};

bool IsNanPattern(const Format& f, uint16_t h) {
  const uint32_t exp_mask = (1u << f.exponent_bits) - 1;
  return ((h >> f.mantissa_bits) & exp_mask) == exp_mask && (h & ((1u << f.mantissa_bits) - 1)) != 0;
}

// Exact value of a non-NaN pattern, by the definition of the format.
double ReferenceValue(const Format& f, uint16_t h) {
  const bool negative = (h & 0x8000u) != 0;
  const uint32_t exp_mask = (1u << f.exponent_bits) - 1;
  const uint32_t exponent = (h >> f.mantissa_bits) & exp_mask;
  const uint32_t mantissa = h & ((1u << f.mantissa_bits) - 1);
  double magnitude;
  if (exponent == exp_mask) {
    magnitude = std::numeric_limits<double>::infinity();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - f.bias - f.mantissa_bits);
  } else {
    magnitude = std::ldexp(static_cast<double>(mantissa + (1u << f.mantissa_bits)),
                           static_cast<int>(exponent) - f.bias - f.mantissa_bits);
  }
  return negative ? -magnitude : magnitude;
}

// Nearest pattern to x by exhaustive search over the sorted non-negative
// finite values, ties to the even pattern; beyond the overflow threshold
// (max + half an ulp) the result is inf.
class NearestSearch {
 public:
  explicit NearestSearch(const Format& f) {
    const uint16_t inf = static_cast<uint16_t>(((1u << f.exponent_bits) - 1) << f.mantissa_bits);
    for (uint32_t h = 0; h < inf; ++h) values_.push_back(ReferenceValue(f, static_cast<uint16_t>(h)));
    // Overflow threshold: the midpoint between max and the next (virtual) value max + ulp.
    const double max = values_.back();
    const double ulp = max - values_[values_.size() - 2];
    overflow_ = max + ulp / 2;
    inf_ = inf;
  }

  uint16_t Nearest(double x) const {
    const uint16_t sign = std::signbit(x) ? 0x8000u : 0;
    const double a = std::fabs(x);
    if (a >= overflow_) return sign | inf_;
    auto it = std::lower_bound(values_.begin(), values_.end(), a);
    size_t hi = static_cast<size_t>(it - values_.begin());
    if (hi == 0) return sign;
    if (hi == values_.size()) return static_cast<uint16_t>(sign | (hi - 1));
    const size_t lo = hi - 1;
    const double dlo = a - values_[lo];
    const double dhi = values_[hi] - a;
    size_t pick = dlo < dhi ? lo : (dhi < dlo ? hi : ((lo & 1) == 0 ? lo : hi));
    return static_cast<uint16_t>(sign | pick);
  }

 private:
  std::vector<double> values_;
  double overflow_ = 0;
  uint16_t inf_ = 0;
};

// One 16-bit wire format and the conversions under test.
struct Codec16 {
  Format format;
  uint16_t (*encode)(float);
  float (*decode)(uint16_t);
};
const Codec16 kHalfCodec{kHalf, FloatToHalfBits, HalfBitsToFloat};
const Codec16 kBfloat16Codec{kBfloat16, FloatToBfloat16Bits, Bfloat16BitsToFloat};

uint16_t InfPattern(const Format& f) {
  return static_cast<uint16_t>(((1u << f.exponent_bits) - 1) << f.mantissa_bits);
}

// 16 bit -> float equals the exact value of every pattern; NaNs stay NaN
// with their sign.
void CheckDecodeMatchesExactArithmetic(const Codec16& codec) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t pattern = static_cast<uint16_t>(h);
    const float got = codec.decode(pattern);
    if (IsNanPattern(codec.format, pattern)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
      ASSERT_EQ(std::signbit(got), (h & 0x8000u) != 0) << std::hex << h;
      continue;
    }
    const double want = ReferenceValue(codec.format, pattern);
    ASSERT_EQ(static_cast<double>(got), want) << "pattern 0x" << std::hex << h;
    ASSERT_EQ(std::signbit(got), std::signbit(want)) << "pattern 0x" << std::hex << h;
  }
}

// float -> 16 bit returns every finite pattern from its exact value, inf
// from inf, and a NaN (same sign) from every NaN.
void CheckEncodeRoundTripsEveryPattern(const Codec16& codec) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t pattern = static_cast<uint16_t>(h);
    if (IsNanPattern(codec.format, pattern)) {
      const uint16_t back = codec.encode(codec.decode(pattern));
      ASSERT_TRUE(IsNanPattern(codec.format, back)) << std::hex << h;
      ASSERT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << h;
      continue;
    }
    ASSERT_EQ(codec.encode(static_cast<float>(ReferenceValue(codec.format, pattern))), pattern)
        << "pattern 0x" << std::hex << h;
  }
}

// For every pair of neighbours (h, h+1) of either sign, the midpoint goes
// to the even one and the floats just below / above it to h / h+1. Above
// the largest finite value the neighbour is the virtual max + ulp, whose
// pattern is inf (the IEEE overflow rule).
void CheckMidpointsRoundToEven(const Codec16& codec) {
  const uint16_t inf = InfPattern(codec.format);
  for (uint32_t h = 0; h < inf; ++h) {
    const double lo = ReferenceValue(codec.format, static_cast<uint16_t>(h));
    const double hi = h + 1 < inf ? ReferenceValue(codec.format, static_cast<uint16_t>(h + 1))
                                  : 2 * lo - ReferenceValue(codec.format, static_cast<uint16_t>(h - 1));
    const double mid_exact = (lo + hi) / 2;
    const float mid = static_cast<float>(mid_exact);
    ASSERT_EQ(static_cast<double>(mid), mid_exact) << "midpoint not exact in binary32";
    const uint16_t even = static_cast<uint16_t>((h & 1u) == 0 ? h : h + 1);
    for (float sign : {1.0f, -1.0f}) {
      const uint16_t s = sign < 0 ? 0x8000u : 0;
      ASSERT_EQ(codec.encode(sign * mid), s | even) << "midpoint above 0x" << std::hex << h;
      ASSERT_EQ(codec.encode(sign * std::nextafter(mid, 0.0f)), s | h) << "below midpoint of 0x" << std::hex << h;
      const float above = std::nextafter(mid, std::numeric_limits<float>::infinity());
      if (std::isfinite(above)) {
        ASSERT_EQ(codec.encode(sign * above), s | (h + 1)) << "above midpoint of 0x" << std::hex << h;
      }
    }
  }
}

// ~1M float patterns spread over all 2^32 (stride 4099) against the
// exhaustive nearest-value search.
void CheckStridedSweep(const Codec16& codec) {
  const NearestSearch search(codec.format);
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4099) {
    const float f = FromBits(static_cast<uint32_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(codec.encode(f), search.Nearest(f)) << "float bits 0x" << std::hex << b;
  }
}

TEST(HalfFloatTest, HalfToFloatMatchesExactArithmeticForAllPatterns) {
  CheckDecodeMatchesExactArithmetic(kHalfCodec);
  for (uint32_t h = 0x7C01; h <= 0x7FFF; ++h) {  // fp16 NaN payload moves to the top of the float's
    EXPECT_EQ((Bits(HalfBitsToFloat(static_cast<uint16_t>(h))) >> 13) & 0x3FFu, h & 0x3FFu) << std::hex << h;
  }
}
TEST(HalfFloatTest, FloatToHalfRoundTripsEveryPattern) { CheckEncodeRoundTripsEveryPattern(kHalfCodec); }
TEST(HalfFloatTest, MidpointsRoundToEvenAndNeighboursToNearest) { CheckMidpointsRoundToEven(kHalfCodec); }
TEST(HalfFloatTest, StridedFloatSweepMatchesNearestSearch) { CheckStridedSweep(kHalfCodec); }

TEST(Bfloat16Test, Bfloat16ToFloatMatchesExactArithmeticForAllPatterns) {
  CheckDecodeMatchesExactArithmetic(kBfloat16Codec);
}
TEST(Bfloat16Test, FloatToBfloat16RoundTripsEveryPattern) { CheckEncodeRoundTripsEveryPattern(kBfloat16Codec); }
TEST(Bfloat16Test, MidpointsRoundToEvenAndNeighboursToNearest) { CheckMidpointsRoundToEven(kBfloat16Codec); }
TEST(Bfloat16Test, StridedFloatSweepMatchesNearestSearch) { CheckStridedSweep(kBfloat16Codec); }

TEST(HalfFloatTest, SpecialValues) {
  EXPECT_EQ(FloatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalfBits(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalfBits(65519.99f), 0x7BFF);
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7C00);  // overflow threshold: ties to even = inf
  EXPECT_EQ(FloatToHalfBits(1e10f), 0x7C00);
  EXPECT_EQ(FloatToHalfBits(-1e10f), 0xFC00);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie to even (0)
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_TRUE(IsNanPattern(kHalf, FloatToHalfBits(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(IsNanPattern(kHalf, FloatToHalfBits(FromBits(0x7F800001u))));  // signalling NaN, tiny payload
  EXPECT_TRUE(IsNanPattern(kHalf, FloatToHalfBits(FromBits(0xFF800001u))));
  EXPECT_EQ(FloatToHalfBits(FromBits(0xFF800001u)) & 0x8000u, 0x8000u);
}

TEST(Bfloat16Test, SpecialValues) {
  EXPECT_EQ(FloatToBfloat16Bits(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBfloat16Bits(-0.0f), 0x8000);
  EXPECT_EQ(FloatToBfloat16Bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
  EXPECT_EQ(FloatToBfloat16Bits(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(FloatToBfloat16Bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToBfloat16Bits(FromBits(0x00008000u)), 0x0000);  // tie, even = 0
  EXPECT_EQ(FloatToBfloat16Bits(FromBits(0x00018000u)), 0x0002);  // tie, even = 2
  EXPECT_TRUE(IsNanPattern(kBfloat16, FloatToBfloat16Bits(FromBits(0x7F800001u))));  // would truncate to inf
  EXPECT_TRUE(IsNanPattern(kBfloat16, FloatToBfloat16Bits(FromBits(0xFFFFFFFFu))));
}

#if defined(__FLT16_MANT_DIG__)
TEST(HalfFloatTest, MatchesCompilerFloat16OnAllPatterns) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t pattern = static_cast<uint16_t>(h);
    _Float16 native;
    std::memcpy(&native, &pattern, 2);
    const float want = static_cast<float>(native);
    const float got = HalfBitsToFloat(pattern);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got));
      continue;
    }
    ASSERT_EQ(Bits(got), Bits(want)) << std::hex << h;
  }
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4099) {
    const float f = FromBits(static_cast<uint32_t>(b));
    const _Float16 native = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &native, 2);
    if (std::isnan(f)) {
      ASSERT_TRUE(IsNanPattern(kHalf, FloatToHalfBits(f)));
      continue;
    }
    ASSERT_EQ(FloatToHalfBits(f), want) << "float bits 0x" << std::hex << b;
  }
}
#endif

TEST(HalfFloatTest, BulkFormsAreLittleEndian) {
  const float values[2] = {1.0f, -2.0f};
  unsigned char bytes[4];
  FloatsToHalfBytes(values, 2, bytes);
  EXPECT_EQ(bytes[0], 0x00);
  EXPECT_EQ(bytes[1], 0x3C);
  EXPECT_EQ(bytes[2], 0x00);
  EXPECT_EQ(bytes[3], 0xC0);
  float back[2];
  HalfBytesToFloats(bytes, 2, back);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], -2.0f);
  FloatsToBfloat16Bytes(values, 2, bytes);
  EXPECT_EQ(bytes[0], 0x80);
  EXPECT_EQ(bytes[1], 0x3F);
  Bfloat16BytesToFloats(bytes, 2, back);
  EXPECT_EQ(back[1], -2.0f);
}

}  // namespace
}  // namespace lip
