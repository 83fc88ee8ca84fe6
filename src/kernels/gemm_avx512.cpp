// AVX-512 kernels over the GGUF layout, for types whose AVX2 kernel leaves
// speed on the table (Q4_0/Q8_0 use the packed tiles of gemm_packed_avx512.cpp;
// the other types fall back to their AVX2 kernels).
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "kernels/gemm.h"
#include "quant/blocks.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;
using gguf::TensorType;

inline float hsum(__m512 v) {
  __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Q6_K x Q8_K, 64 weights per vector: in each half of 128 weights, ql[0..63]
// holds weights 0..63 in its low nibbles and 64..127 in its high nibbles;
// qh[l] holds the 2-bit high parts of weights l, l + 32, l + 64, l + 96.
// maddubs multiplies the unsigned 6-bit q by the activations, vpdpwssd scales
// the i16 pair sums by the per-16 scales; the -32 offset comes off as
// 32 * sum(sc * group sums).
// Vector v (0..3) covers scale groups 4v..4v+3; i16 lane j of its pair sums
// belongs to group 4v + j / 8.
struct Q6Pick {
  alignas(64) int16_t idx[4][32];
  constexpr Q6Pick() : idx() {
    for (int v = 0; v < 4; ++v)
      for (int j = 0; j < 32; ++j) idx[v][j] = static_cast<int16_t>(4 * v + j / 8);
  }
};
constexpr Q6Pick kQ6Pick;

float dot_q6_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ6_K*>(w);
  const auto* y = static_cast<const q::BlockQ8_K*>(a);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
  // i16 shift counts: weights 0..31 of a vector take qh bits 0-1 (or 4-5),
  // weights 32..63 bits 2-3 (or 6-7).
  const __m512i shl_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr_hi = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
    const __m512i sc = _mm512_castsi256_si512(sc16);
    const __m256i offset =
        _mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums)));
    __m512i sumi = _mm512_castsi256_si512(
        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
    sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(x[b].ql + 64 * h);
      const __m256i qh256 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * h));
      const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh256), qh256, 1);
      const __m512i v0 = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                         _mm512_and_si512(_mm512_sllv_epi16(qh, shl_lo), m2));
      const __m512i v1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), m2));
      const __m512i p0 = _mm512_maddubs_epi16(v0, _mm512_loadu_si512(y[b].qs + 128 * h));
      const __m512i p1 = _mm512_maddubs_epi16(v1, _mm512_loadu_si512(y[b].qs + 128 * h + 64));
      sumi = _mm512_dpwssd_epi32(
          sumi, p0, _mm512_permutexvar_epi16(_mm512_load_si512(kQ6Pick.idx[2 * h]), sc));
      sumi = _mm512_dpwssd_epi32(
          sumi, p1, _mm512_permutexvar_epi16(_mm512_load_si512(kQ6Pick.idx[2 * h + 1]), sc));
    }
    const float d = y[b].d * _cvtsh_ss(x[b].d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d), acc);
  }
  return hsum(acc);
}

using DotFn = float (*)(int64_t, const void*, const void*);

template <DotFn Dot>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int nr, const void* a, size_t a_row_bytes,
          int nt, float* y, int64_t y_stride) {
  const auto* wp = static_cast<const uint8_t*>(w);
  const auto* ap = static_cast<const uint8_t*>(a);
  for (int t = 0; t < nt; ++t)
    for (int r = 0; r < nr; ++r)
      y[t * y_stride + r] = Dot(n, wp + r * w_row_bytes, ap + t * a_row_bytes);
}

}  // namespace

GemmKernel gemm_kernel_avx512(TensorType weight) {
  switch (weight) {
    case TensorType::Q6_K:
      return gemm<dot_q6_k>;
    default:
      return nullptr;
  }
}

}  // namespace hearth::kernels::detail
