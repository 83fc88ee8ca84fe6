// AVX-512 activation quantizers, bit-exact with the scalar ones (act_quant.cpp).
// GCC 12's AVX-512 headers use _mm512_undefined_*() as pass-through operands,
// which -Wmaybe-uninitialized flags in every caller: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/act_quant.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;

// Horizontal max and sum without _mm512_reduce_* (GCC 12 warns on those).
inline float hmax(__m512 v) {
  __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}
inline int hsum(__m512i v) {
  __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti32x8_epi32(v, 1));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
  return _mm_cvtsi128_si32(s4);
}

// One 32-block: returns the sum of the quantized values and stores them.
inline int quantize_block32(const float* x, int8_t* qs, float& d) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const __m512 amax16 = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
  const float amax = hmax(amax16);
  d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const __m512 vid = _mm512_set1_ps(id);
  // cvtps rounds with the current mode: nearest even, like the scalar nearbyint.
  const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
  const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtsepi32_epi8(i0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtsepi32_epi8(i1));
  return hsum(_mm512_add_epi32(i0, i1));
}

}  // namespace

void quantize_q8_0_avx512(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
  }
}

void quantize_q8_1_avx512(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    const int sum = quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
    y[b].s = q::fp32_to_fp16(d * static_cast<float>(sum));
  }
}

void quantize_q8_k_avx512(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / q::kQK_K; ++b, x += q::kQK_K) {
    __m512 a = _mm512_setzero_ps();
    for (int j = 0; j < q::kQK_K; j += 16)
      a = _mm512_max_ps(a, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = hmax(a);
    if (amax == 0) {
      y[b] = {};
      continue;
    }
    // The first value of the largest magnitude, as the scalar loop keeps it.
    float max = 0;
    for (int j = 0; j < q::kQK_K; j += 16) {
      const __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)),
                                             _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (m) {
        max = x[j + __builtin_ctz(m)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int g = 0; g < q::kQK_K / 16; ++g) {
      // cvtps rounds to nearest even, like the scalar nearbyint.
      const __m512i v =
          _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16 * g))),
                           _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16 * g), _mm512_cvtsepi32_epi8(v));
      y[b].bsums[g] = static_cast<int16_t>(hsum(v));
    }
    y[b].d = 1 / iscale;
  }
}

}  // namespace hearth::kernels::detail
