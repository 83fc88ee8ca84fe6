// AVX-512 kernels over the GGUF layout for the K types (Q4_0/Q8_0 use the
// packed tiles of gemm_packed_avx512.cpp; the other types fall back to their
// AVX2 kernels).
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "kernels/gemm.h"
#include "quant/blocks.h"
#include "quant/decode.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;
namespace decode = hearth::quant::decode;
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

// Q4_K / Q5_K x Q8_K: each chunk c of 64 weights (32 bytes of nibbles: the low
// ones sub-block 2c, the high ones 2c + 1) becomes one zmm of unsigned q
// matching 64 contiguous activations; maddubs + vpdpwssd with the two 6-bit
// scales. T tokens at once, sharing the decoded weights.
template <bool kFive, typename Block, int T>
void dot_q45_k(int64_t n, const void* w, const uint8_t* a, size_t a_stride, float* out,
               int64_t out_stride) {
  const auto* x = static_cast<const Block*>(w);
  const q::BlockQ8_K* y[T];
  for (int t = 0; t < T; ++t) y[t] = reinterpret_cast<const q::BlockQ8_K*>(a + t * a_stride);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m512 acc[T];
  __m128 mins[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps(), mins[t] = _mm_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) decode::k_scale_min(x[b].scales, j, sc[j], mn[j]);
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm512_setzero_si512();
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh));
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * c));
      __m256i lo = _mm256_and_si256(q4, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFive) {
        const __m256i b0 = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
        const __m256i b1 = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
        const __m256i sixteen = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(
            lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hbits, b0), b0), sixteen));
        hi = _mm256_or_si256(
            hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hbits, b1), b1), sixteen));
      }
      const __m512i qv = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      const __m512i scales =
          _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(sc[2 * c])),
                             _mm256_set1_epi16(static_cast<short>(sc[2 * c + 1])), 1);
      for (int t = 0; t < T; ++t) {
        const __m512i p = _mm512_maddubs_epi16(qv, _mm512_loadu_si512(y[t][b].qs + 64 * c));
        sumi[t] = _mm512_dpwssd_epi32(sumi[t], p, scales);
      }
    }
    const float d = _cvtsh_ss(x[b].d), dmin = _cvtsh_ss(x[b].dmin);
    // sum_j mn[j] * (bsums[2j] + bsums[2j + 1]) in 4 i32 lanes: the pair sums
    // (|.| <= 32 * 127) packed back to i16 and multiplied by the mins.
    const __m128i mn16 = _mm_setr_epi16(static_cast<short>(mn[0]), static_cast<short>(mn[1]),
                                        static_cast<short>(mn[2]), static_cast<short>(mn[3]),
                                        static_cast<short>(mn[4]), static_cast<short>(mn[5]),
                                        static_cast<short>(mn[6]), static_cast<short>(mn[7]));
    for (int t = 0; t < T; ++t) {
      const __m256i pairs =
          _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t][b].bsums)),
                            _mm256_set1_epi16(1));
      const __m128i pairs16 =
          _mm_packs_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
      const __m128i min4 = _mm_madd_epi16(pairs16, mn16);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_set1_ps(y[t][b].d * d), acc[t]);
      mins[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(min4), _mm_set1_ps(y[t][b].d * dmin), mins[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    __m128 m = _mm_add_ps(mins[t], _mm_movehl_ps(mins[t], mins[t]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    out[t * out_stride] = hsum(acc[t]) - _mm_cvtss_f32(m);
  }
}

}  // namespace

GemmKernel gemm_kernel_avx512(TensorType weight) {
  switch (weight) {
    case TensorType::Q4_K:
      return gemm_by_rows_x4<dot_q45_k<false, q::BlockQ4_K, 4>, dot_q45_k<false, q::BlockQ4_K, 1>>;
    case TensorType::Q5_K:
      return gemm_by_rows_x4<dot_q45_k<true, q::BlockQ5_K, 4>, dot_q45_k<true, q::BlockQ5_K, 1>>;
    case TensorType::Q6_K:
      return gemm_by_rows<dot_q6_k>;
    default:
      return nullptr;
  }
}

}  // namespace hearth::kernels::detail
