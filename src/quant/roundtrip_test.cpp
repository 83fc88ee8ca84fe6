// quantize_row -> dequantize_row on random data: every weight comes back within
// its format's error bound, and degenerate blocks behave as llama.cpp's do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/types.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/rows.h"

namespace hearth::quant {
namespace {

using gguf::TensorType;

// Gaussian weights with a few outliers, like real weight rows.
std::vector<float> random_weights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<float> x(n);
  for (auto& v : x) v = pick(rng) == 0 ? 8.0f * normal(rng) : normal(rng);
  return x;
}

std::vector<float> roundtrip(TensorType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(gguf::row_bytes(type, n));
  quantize_row(type, x.data(), q.data(), n);
  std::vector<float> y(n);
  dequantize_row(type, q.data(), y.data(), n);
  return y;
}

constexpr int64_t kN = 256 * 64;
constexpr double kHalfUlp = 1.0 / 2048.0;  // relative rounding of an fp16 scale

// Per 32-weight block: the error bound as a function of the block's values.
void check_blocks(TensorType type, double (*bound)(const float* block)) {
  const auto x = random_weights(kN, static_cast<uint32_t>(type) + 100);
  const auto y = roundtrip(type, x);
  for (int64_t b = 0; b < kN / 32; ++b) {
    const double lim = bound(x.data() + 32 * b);
    for (int j = 0; j < 32; ++j) {
      const int64_t i = 32 * b + j;
      ASSERT_LE(std::fabs(x[i] - y[i]), lim) << gguf::type_name(type) << " weight " << i;
    }
  }
}

double absmax(const float* x) {
  double m = 0;
  for (int j = 0; j < 32; ++j) m = std::max(m, static_cast<double>(std::fabs(x[j])));
  return m;
}
double range(const float* x, double* lo) {
  const auto [mn, mx] = std::minmax_element(x, x + 32);
  *lo = *mn;
  return static_cast<double>(*mx) - *mn;
}

TEST(RoundTrip, Q8_0WithinHalfAStep) {
  // d = amax / 127: rounding error d/2, plus the fp16 rounding of d on up to 127 steps.
  check_blocks(TensorType::Q8_0, [](const float* x) {
    const double d = absmax(x) / 127;
    return d / 2 + 127 * d * kHalfUlp + 1e-9;
  });
}

TEST(RoundTrip, Q4_0WithinOneStep) {
  // d = max / -8: levels -8..7 so the opposite extreme can be clamped a full step.
  check_blocks(TensorType::Q4_0, [](const float* x) {
    const double d = absmax(x) / 8;
    return d + 8 * d * kHalfUlp + 1e-9;
  });
}

TEST(RoundTrip, Q5_0WithinOneStep) {
  check_blocks(TensorType::Q5_0, [](const float* x) {
    const double d = absmax(x) / 16;
    return d + 16 * d * kHalfUlp + 1e-9;
  });
}

TEST(RoundTrip, Q4_1WithinHalfAStep) {
  check_blocks(TensorType::Q4_1, [](const float* x) {
    double lo;
    const double d = range(x, &lo) / 15;
    return d / 2 + 15 * d * kHalfUlp + std::fabs(lo) * kHalfUlp + 1e-9;
  });
}

TEST(RoundTrip, Q5_1WithinHalfAStep) {
  check_blocks(TensorType::Q5_1, [](const float* x) {
    double lo;
    const double d = range(x, &lo) / 31;
    return d / 2 + 31 * d * kHalfUlp + std::fabs(lo) * kHalfUlp + 1e-9;
  });
}

// K types: the scale search trades the worst case for a lower total error, so
// bound the error relative to each 256-weight super-block's spread (RMS) and largest value.
void check_superblocks(TensorType type, double rms_ratio, double max_ratio) {
  const auto x = random_weights(kN, static_cast<uint32_t>(type) + 200);
  const auto y = roundtrip(type, x);
  for (int64_t b = 0; b < kN / 256; ++b) {
    double sx = 0, se = 0, amax = 0, emax = 0;
    for (int j = 0; j < 256; ++j) {
      const double v = x[256 * b + j], e = v - y[256 * b + j];
      sx += v * v;
      se += e * e;
      amax = std::max(amax, std::fabs(v));
      emax = std::max(emax, std::fabs(e));
    }
    EXPECT_LE(std::sqrt(se / sx), rms_ratio) << gguf::type_name(type) << " super-block " << b;
    EXPECT_LE(emax, max_ratio * amax) << gguf::type_name(type) << " super-block " << b;
  }
}

TEST(RoundTrip, KTypesWithinBounds) {
  // Bounds about 1.3x the worst super-block seen on this data (Gaussian with
  // 1% outliers at 8 sigma); Q8_K is plain rounding: half a step of amax / 127.
  check_superblocks(TensorType::Q6_K, 0.045, 0.025);
  check_superblocks(TensorType::Q5_K, 0.075, 0.05);
  check_superblocks(TensorType::Q4_K, 0.15, 0.1);
  check_superblocks(TensorType::Q3_K, 0.30, 0.25);
  check_superblocks(TensorType::Q2_K, 0.55, 0.45);
  check_superblocks(TensorType::Q8_K, 0.035, 0.5 / 127 + 1e-6);
}

TEST(RoundTrip, FloatTypesRoundToNearest) {
  const auto x = random_weights(1024, 5);
  const auto h = roundtrip(TensorType::F16, x);
  const auto b = roundtrip(TensorType::BF16, x);
  const auto f = roundtrip(TensorType::F32, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], fp16_to_fp32(fp32_to_fp16(x[i])));
    EXPECT_LE(std::fabs(b[i] - x[i]), std::fabs(x[i]) / 256);
    EXPECT_EQ(f[i], x[i]);
  }
}

TEST(RoundTrip, ZeroBlocksDecodeToZero) {
  const std::vector<float> zeros(256, 0.0f);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                       TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                       TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K}) {
    for (float v : roundtrip(t, zeros)) EXPECT_EQ(v, 0.0f) << gguf::type_name(t);
  }
  // llama.cpp's Q4_0 scale of an all-zero block is max / -8 = -0.0 (0x8000).
  BlockQ4_0 b;
  quantize_row(TensorType::Q4_0, zeros.data(), &b, 32);
  EXPECT_EQ(b.d, 0x8000);
  for (uint8_t q : b.qs) EXPECT_EQ(q, 0x88);
}

TEST(RoundTrip, Q8_0KeepsTheSignedMaximumExact) {
  std::vector<float> x(32, 0.0f);
  x[3] = -1.0f;
  x[7] = 0.5f;
  BlockQ8_0 b;
  quantize_row(TensorType::Q8_0, x.data(), &b, 32);
  EXPECT_EQ(b.qs[3], -127);
  EXPECT_EQ(b.qs[7], 64);  // 63.5 rounds away from zero
  EXPECT_EQ(b.d, fp32_to_fp16(1.0f / 127.0f));
}

}  // namespace
}  // namespace hearth::quant
