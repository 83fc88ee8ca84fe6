// AVX2 + FMA + F16C variants of the vector primitives in ops.h (compiled with
// those flags; ops.cpp calls them only on CPUs that have them).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/dot_avx2.h"
#include "kernels/ops.h"
#include "quant/fp16.h"

namespace hearth::kernels::ops::avx2 {

float dot(const float* a, const float* b, int64_t n) { return dot_avx2(a, b, n); }

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = quant::fp16_to_fp32(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) dst[i] = quant::fp32_to_fp16(src[i]);
}

void round_to_f16(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) x[i] = quant::fp16_to_fp32(quant::fp32_to_fp16(x[i]));
}

// ops.cpp's rope_head compiled with FMA: std::fma becomes one vfmadd (the
// scalar build calls libm's, same result).
void rope_head(float* x, const float* cos_sin, const backend::RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  if (p.mode == backend::RopeMode::Neox) {
    int64_t i = 0;
    for (; i + 8 <= half; i += 8) {
      // cos_sin holds (cos, sin) pairs: split 8 of them into a cos and a sin vector.
      const __m256 a = _mm256_loadu_ps(cos_sin + 2 * i), b = _mm256_loadu_ps(cos_sin + 2 * i + 8);
      const __m256 lo = _mm256_permute2f128_ps(a, b, 0x20), hi = _mm256_permute2f128_ps(a, b, 0x31);
      const __m256 c = _mm256_shuffle_ps(lo, hi, 0x88), s = _mm256_shuffle_ps(lo, hi, 0xDD);
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + half);
      _mm256_storeu_ps(x + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
      _mm256_storeu_ps(x + i + half, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
    }
    for (; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1], x0 = x[i], x1 = x[i + half];
      x[i] = std::fma(x0, c, -(x1 * s));
      x[i + half] = std::fma(x0, s, x1 * c);
    }
    return;
  }
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1], x0 = x[2 * i], x1 = x[2 * i + 1];
    x[2 * i] = std::fma(x0, c, -(x1 * s));
    x[2 * i + 1] = std::fma(x0, s, x1 * c);
  }
}

// ops::silu(gate) * up on 8 lanes, the same fused steps as ops::exp_ggml; 2^n is
// built in the exponent field, exact for |n| <= 126 (a block with a larger |n|
// is left to the scalar code). Returns how many values it did.
int64_t swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f), one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 x = _mm256_sub_ps(_mm256_setzero_ps(), g);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    const __m256 nn = _mm256_sub_ps(z, shift);
    const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), nn),
                                     _mm256_set1_ps(126), _CMP_NLE_UQ);  // NaN too
    if (_mm256_movemask_ps(big)) {
      for (int64_t k = i; k < i + 8; ++k) out[k] = silu(gate[k]) * up[k];
      continue;
    }
    const __m256 b = _mm256_fnmadd_ps(nn, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(nn, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, one));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nn), _mm256_set1_epi32(127)), 23);
    const __m256 ex = _mm256_mul_ps(j, _mm256_castsi256_ps(e));
    const __m256 silu_g = _mm256_div_ps(g, _mm256_add_ps(one, ex));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu_g, _mm256_loadu_ps(up + i)));
  }
  return i;
}

}  // namespace hearth::kernels::ops::avx2
