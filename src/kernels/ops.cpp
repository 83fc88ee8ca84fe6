#include "kernels/ops.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "quant/fp16.h"

namespace hearth::kernels::ops {

// AVX2 + FMA + F16C variants (ops_avx2.cpp), used when the CPU has them.
namespace avx2 {
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
void round_to_f16(float* x, int64_t n);
void rope_head(float* x, const float* cos_sin, const backend::RopeParams& p);
int64_t swiglu(const float* gate, const float* up, float* out, int64_t n);
}  // namespace avx2

// AVX-512 variants (ops_avx512.cpp): each returns how many values it did.
namespace avx512 {
int64_t swiglu(const float* gate, const float* up, float* out, int64_t n);
}  // namespace avx512

namespace {

bool has_avx2() {
  static const bool yes = best_simd_level() >= SimdLevel::kAvx2;
  return yes;
}
bool has_avx512() {
  static const bool yes = best_simd_level() >= SimdLevel::kAvx512;
  return yes;
}

}  // namespace

float exp_ggml(float x) {
  if (std::isnan(x)) return x;
  const float shift = 0x1.8p23f;  // adding it rounds x log2(e) to an integer n
  const float z = std::fma(x, 0x1.715476p+0f, shift);
  const float n = z - shift;
  // b = x - n ln2, ln2 in two parts
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192) return n <= 0 ? 0.0f : INFINITY;
  return std::ldexp(j, static_cast<int>(n));  // exact, or rounded once when subnormal
}

float silu(float x) { return x / (1.0f + exp_ggml(0.0f - x)); }

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float s = 1.0f / std::sqrt(mean + eps);
  if (weight) {
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * s) * weight[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * s;
  }
}

void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double sum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] - mean;
    out[i] = v;
    sum2 += static_cast<double>(v * v);
  }
  const float var = static_cast<float>(sum2 / static_cast<double>(n));
  const float s = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = out[i] * s;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    out[i] = v;
  }
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  scale(x, static_cast<float>(1.0 / sum), n);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  if (has_avx512())
    i = avx512::swiglu(gate, up, out, n);
  else if (has_avx2())
    i = avx2::swiglu(gate, up, out, n);
  for (; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void gelu(float* x, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + 0.044715f * v * v)));
  }
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void rope_angles(int64_t pos, const backend::RopeParams& p, float* cos_sin) {
  // As ggml's rope cache: the angle of pair i is pos * base^(-2i/n_rot), the power
  // taken by repeated f32 multiplication, which greedy tokens are sensitive to.
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < p.n_rot / 2; ++i) {
    const float t = p.freq_scale * theta;
    cos_sin[2 * i] = std::cos(t);
    cos_sin[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope_head(float* x, const float* cos_sin, const backend::RopeParams& p) {
  if (has_avx2()) return avx2::rope_head(x, cos_sin, p);
  const int64_t half = p.n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t i0 = p.mode == backend::RopeMode::Normal ? 2 * i : i;
    const int64_t i1 = p.mode == backend::RopeMode::Normal ? 2 * i + 1 : i + half;
    const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
    const float x0 = x[i0], x1 = x[i1];
    // ggml's rotate_pairs as its -march=native build contracts it: the x0
    // products fused, the x1 products rounded first.
    x[i0] = std::fma(x0, c, -(x1 * s));
    x[i1] = std::fma(x0, s, x1 * c);
  }
}

float dot(const float* a, const float* b, int64_t n) {
  if (has_avx2()) return avx2::dot(a, b, n);
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  if (has_avx2()) return avx2::axpy(a, x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale(float* x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  if (has_avx2()) return avx2::f16_to_f32(src, dst, n);
  for (int64_t i = 0; i < n; ++i) dst[i] = quant::fp16_to_fp32(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  if (has_avx2()) return avx2::f32_to_f16(src, dst, n);
  for (int64_t i = 0; i < n; ++i) dst[i] = quant::fp32_to_fp16(src[i]);
}

void round_to_f16(float* x, int64_t n) {
  if (has_avx2()) return avx2::round_to_f16(x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = quant::fp16_to_fp32(quant::fp32_to_fp16(x[i]));
}

}  // namespace hearth::kernels::ops
