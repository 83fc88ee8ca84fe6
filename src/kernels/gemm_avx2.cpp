// AVX2 kernels: one weight row times one activation row at a time, in the
// GGUF layout, int8 products through maddubs (u8 x s8 -> pairs of i16) and
// madd (-> i32). Every weight type has one; on AVX-512 machines they serve the
// types without an AVX-512 kernel.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.h"
#include "quant/decode.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;
namespace decode = hearth::quant::decode;
using gguf::TensorType;

inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i ones16() { return _mm256_set1_epi16(1); }

// sum of u[i] * s[i] over groups of 4 bytes -> 8 x i32 (u unsigned, s signed;
// pairs of products must fit in i16: |u| <= 63 holds for every caller).
inline __m256i dot_us(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones16());
}
// Signed x signed: move the sign of x onto y, then multiply |x| (unsigned) by it.
inline __m256i dot_ss(__m256i x, __m256i y) {
  return dot_us(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

// Bit i of the 32-bit word at p -> byte i of the result: 0x10 where set, else 0.
inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i select = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

float dot_q4_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ4_0*>(w);
  const auto* y = static_cast<const q::BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i qw = _mm256_sub_epi8(unpack_nibbles(x[b].qs), _mm256_set1_epi8(8));
    const __m256i p = dot_ss(qw, load256(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ8_0*>(w);
  const auto* y = static_cast<const q::BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i p = dot_ss(load256(x[b].qs), load256(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ5_0*>(w);
  const auto* y = static_cast<const q::BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i q5 = _mm256_or_si256(unpack_nibbles(x[b].qs), fifth_bits(x[b].qh));
    const __m256i p = dot_ss(_mm256_sub_epi8(q5, _mm256_set1_epi8(16)), load256(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_q4_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ4_1*>(w);
  const auto* y = static_cast<const q::BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i p = dot_us(unpack_nibbles(x[b].qs), load256(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc);
    offsets += half(x[b].m) * half(y[b].s);
  }
  return hsum(acc) + offsets;
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ5_1*>(w);
  const auto* y = static_cast<const q::BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i q5 = _mm256_or_si256(unpack_nibbles(x[b].qs), fifth_bits(x[b].qh));
    const __m256i p = dot_us(q5, load256(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc);
    offsets += half(x[b].m) * half(y[b].s);
  }
  return hsum(acc) + offsets;
}

// Q4_K / Q5_K: four chunks of 64 weights; each chunk's 32 bytes of nibbles
// hold sub-block 2c (low) and 2c + 1 (high), each with its own 6-bit scale.
// T tokens at once (out[t * out_stride]): the weights' scales and nibbles are
// decoded once for all of them, which is most of the work.
template <bool kFive, typename Block, int T>
void dot_q45_k(int64_t n, const void* w, const uint8_t* a, size_t a_stride, float* out,
               int64_t out_stride) {
  const auto* x = static_cast<const Block*>(w);
  const q::BlockQ8_K* y[T];
  for (int t = 0; t < T; ++t) y[t] = reinterpret_cast<const q::BlockQ8_K*>(a + t * a_stride);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[T];
  float mins[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps(), mins[t] = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) decode::k_scale_min(x[b].scales, j, sc[j], mn[j]);
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = load256(x[b].qh);
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = load256(x[b].qs + 32 * c);
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
      const __m256i slo = _mm256_set1_epi16(static_cast<short>(sc[2 * c]));
      const __m256i shi = _mm256_set1_epi16(static_cast<short>(sc[2 * c + 1]));
      for (int t = 0; t < T; ++t) {
        const __m256i plo = _mm256_maddubs_epi16(lo, load256(y[t][b].qs + 64 * c));
        const __m256i phi = _mm256_maddubs_epi16(hi, load256(y[t][b].qs + 64 * c + 32));
        sumi[t] = _mm256_add_epi32(
            sumi[t], _mm256_add_epi32(_mm256_madd_epi16(plo, slo), _mm256_madd_epi16(phi, shi)));
      }
    }
    const float d = half(x[b].d), dmin = half(x[b].dmin);
    for (int t = 0; t < T; ++t) {
      int min_sum = 0;
      for (int j = 0; j < 8; ++j)
        min_sum += mn[j] * (y[t][b].bsums[2 * j] + y[t][b].bsums[2 * j + 1]);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(y[t][b].d * d), acc[t]);
      mins[t] += y[t][b].d * dmin * static_cast<float>(min_sum);
    }
  }
  for (int t = 0; t < T; ++t) out[t * out_stride] = hsum(acc[t]) - mins[t];
}

// Q6_K: unsigned 6-bit q (0..63) times the activations, scaled per 16
// weights; the -32 offset comes off as 32 * sum(sc * group sums).
float dot_q6_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const q::BlockQ6_K*>(w);
  const auto* y = static_cast<const q::BlockQ8_K*>(a);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  // For vector k of a half: the i16 scale of group 2k in the low 128 bits and
  // of group 2k + 1 in the high 128 bits, picked from the half's 8 scales.
  const __m256i pick[4] = {_mm256_set_epi64x(0x0302030203020302, 0x0302030203020302,
                                             0x0100010001000100, 0x0100010001000100),
                           _mm256_set_epi64x(0x0706070607060706, 0x0706070607060706,
                                             0x0504050405040504, 0x0504050405040504),
                           _mm256_set_epi64x(0x0B0A0B0A0B0A0B0A, 0x0B0A0B0A0B0A0B0A,
                                             0x0908090809080908, 0x0908090809080908),
                           _mm256_set_epi64x(0x0F0E0F0E0F0E0F0E, 0x0F0E0F0E0F0E0F0E,
                                             0x0D0C0D0C0D0C0D0C, 0x0D0C0D0C0D0C0D0C)};
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    // 32 * sum over groups of sc * bsum, spread over 8 lanes.
    __m256i sumi = _mm256_sub_epi32(
        _mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y[b].bsums)), 5));
    for (int h = 0; h < 2; ++h) {
      const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[b].scales + 8 * h))));
      const __m256i l0 = load256(x[b].ql + 64 * h), l1 = load256(x[b].ql + 64 * h + 32);
      const __m256i hb = load256(x[b].qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                          _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2))};
      for (int k = 0; k < 4; ++k) {
        const __m256i p = _mm256_maddubs_epi16(q[k], load256(y[b].qs + 128 * h + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(scales, pick[k])));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(y[b].d * half(x[b].d)), acc);
  }
  return hsum(acc);
}

// Float weights: 4 independent f32 FMA chains of 8 lanes; the last n % 8
// values one at a time (no load past the row).
template <__m256 (*Load)(const void*, int64_t), float (*Scalar)(const void*, int64_t)>
float dot_float(int64_t n, const void* w, const void* a) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(Load(w, i + 8 * k), Load(a, i + 8 * k), acc[k]);
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(w, i), Load(a, i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += Scalar(w, i) * Scalar(a, i);
  return sum;
}

__m256 load_f32(const void* p, int64_t i) {
  return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}
__m256 load_f16(const void* p, int64_t i) {
  return _mm256_cvtph_ps(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
}
__m256 load_bf16(const void* p, int64_t i) {
  const __m128i h =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
float one_f32(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
float one_f16(const void* p, int64_t i) { return half(static_cast<const uint16_t*>(p)[i]); }
float one_bf16(const void* p, int64_t i) {
  return q::bf16_to_fp32(static_cast<const uint16_t*>(p)[i]);
}

}  // namespace

GemmKernel gemm_kernel_avx2(TensorType weight) {
  switch (weight) {
    case TensorType::F32:
      return gemm_by_rows<dot_float<load_f32, one_f32>>;
    case TensorType::F16:
      return gemm_by_rows<dot_float<load_f16, one_f16>>;
    case TensorType::BF16:
      return gemm_by_rows<dot_float<load_bf16, one_bf16>>;
    case TensorType::Q4_0:
      return gemm_by_rows<dot_q4_0>;
    case TensorType::Q5_0:
      return gemm_by_rows<dot_q5_0>;
    case TensorType::Q8_0:
      return gemm_by_rows<dot_q8_0>;
    case TensorType::Q4_1:
      return gemm_by_rows<dot_q4_1>;
    case TensorType::Q5_1:
      return gemm_by_rows<dot_q5_1>;
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
