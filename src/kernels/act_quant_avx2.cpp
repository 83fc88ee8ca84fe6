// AVX2 activation quantizers, bit-exact with the scalar ones (act_quant.cpp):
// the same products, rounded by cvtps (nearest even, like nearbyint).
#include <immintrin.h>

#include "kernels/act_quant.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }

inline float hmax(__m256 v) {
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}
inline int hsum(__m256i v) {
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
  return _mm_cvtsi128_si32(s4);
}

// 16 int32 (two vectors, each in -127..127) -> 16 int8 in order.
inline __m128i narrow16(__m256i a, __m256i b) {
  // packs works within 128-bit lanes: a0 b0 a1 b1 (4 values each); restore order.
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

// One 32-block: returns the sum of the quantized values and stores them.
inline int quantize_block32(const float* x, int8_t* qs, float& d) {
  __m256 v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
  const float amax = hmax(_mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
                                        _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3]))));
  d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i i[4];
  for (int k = 0; k < 4; ++k) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), narrow16(i[0], i[1]));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), narrow16(i[2], i[3]));
  return hsum(_mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3])));
}

}  // namespace

void quantize_q8_0_avx2(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
  }
}

void quantize_q8_1_avx2(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    const int sum = quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
    y[b].s = q::fp32_to_fp16(d * static_cast<float>(sum));
  }
}

void quantize_q8_k_avx2(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / q::kQK_K; ++b, x += q::kQK_K) {
    __m256 a = _mm256_setzero_ps();
    for (int j = 0; j < q::kQK_K; j += 8) a = _mm256_max_ps(a, abs_ps(_mm256_loadu_ps(x + j)));
    const float amax = hmax(a);
    if (amax == 0) {
      y[b] = {};
      continue;
    }
    // The first value of the largest magnitude, as the scalar loop keeps it.
    float max = 0;
    for (int j = 0; j < q::kQK_K; j += 8) {
      const int m = _mm256_movemask_ps(
          _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (m) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(m))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    for (int g = 0; g < q::kQK_K / 16; ++g) {
      const __m256i v0 =
          _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 16 * g))), top);
      const __m256i v1 = _mm256_min_epi32(
          _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 16 * g + 8))), top);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16 * g), narrow16(v0, v1));
      y[b].bsums[g] = static_cast<int16_t>(hsum(_mm256_add_epi32(v0, v1)));
    }
    y[b].d = 1 / iscale;
  }
}

}  // namespace hearth::kernels::detail
