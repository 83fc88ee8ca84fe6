// The per-row path of cpu_attention over an f16 cache (attend_rows_f16_avx2
// and attend_rows_f16_avx512 in cpu_backend_kv.h), written once for the
// register width each instruction set's file instantiates it with. Internal
// to kernels.
//
// Key by key, a row's score, exp and f16 accumulator form one chain of
// dependent steps (a dot product, its horizontal sum, expf, the
// accumulator's rescale and rounding), which left the core waiting:
// generation at a depth of 4096 tokens spent 65% of its time here. So each
// block of keys runs in three passes, each of independent steps: every row's
// scores, 8 rows at a time; every row's softmax factors (the running maximum
// and the sums key after key), 8 rows a register; then the values into the
// accumulators, 8 rows at a time. The operations and their order for each
// row and key are attend_row_online's, element by element, so the bits are
// too, whatever the register width.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dot_avx2.h"
#include "kernels/expf_libm.h"

namespace hearth::kernels {
namespace {  // compiled per instruction set: see gemm_packed.h

constexpr int64_t kRowsKeyBlock = 64;   // keys per block of the three passes
constexpr int64_t kRowsKeysAhead = 16;  // how far ahead keys are fetched

// Query rows whose accumulators the value pass carries in registers at once.
constexpr int kRowsAtOnce = 8;

// The score pass's rows at once: one ymm of scores.
constexpr int kScoreRows = 8;

// Floats of scratch attend_rows_f16 needs.
inline size_t attention_rows_scratch(int64_t n_rows, int64_t hd) {
  const int64_t padded = (n_rows + kScoreRows - 1) / kScoreRows * kScoreRows;
  return static_cast<size_t>((1 + 2 * n_rows + kRowsKeyBlock) * hd + 2 * padded +
                             3 * padded * kRowsKeyBlock + kRowsKeyBlock);
}

// Brings the n f16 values at p into the cache.
inline void prefetch_f16(const uint16_t* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 32)
    _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}

// 8 floats a register (AVX2 with F16C and FMA).
struct Ymm8 {
  using V = __m256;
  static constexpr int64_t kWidth = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V x) { _mm256_storeu_ps(p, x); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static V to_f16(V x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }
};

#ifdef __AVX512F__
// 16 floats a register: half the conversions' instructions, which bound the
// value pass.
struct Zmm16 {
  using V = __m512;
  static constexpr int64_t kWidth = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V x) { _mm512_storeu_ps(p, x); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V to_f16(V x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }
};
#endif

// dot_avx2(q + i hd, k, hd) for the kScoreRows rows i below nr, one per
// lane (the lanes of rows from nr on repeat row nr - 1's: the caller pads its
// scores to whole registers and reads none of them): hd a multiple of 16, so
// dot_avx2's two accumulators over 16-element steps (one zmm on AVX-512: its
// halves are the two) and no tail; then its horizontal sum, for 8 rows at
// once, with each sum's pairs added as dot_avx2 adds them (its lanes i and
// i + 4, then those sums' 0 + 2 and 1 + 3, then the two), so each lane is the
// bits of dot_avx2. Per key and row that is about 1.5 instructions of summing
// where dot_avx2 spends 7. The rows' accumulators advance side by side, one
// step of every row per slice of the key: row after row, each row's 4
// dependent FMAs (64 dimensions) left the core waiting on their latency, 37%
// of the kernel's time at a depth of 4096 on Zen 5.
template <class R>
inline __m256 dot_rows8(const float* q, int nr, const float* k, int64_t hd) {
  const float* qi[kScoreRows];
  for (int i = 0; i < kScoreRows; ++i) qi[i] = q + std::min(i, nr - 1) * hd;
  __m256 v[kScoreRows];
#ifdef __AVX512F__
  if constexpr (R::kWidth == 16) {
    __m512 acc[kScoreRows];
#pragma GCC unroll 8
    for (int i = 0; i < kScoreRows; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; d += 16) {
      const __m512 kd = _mm512_loadu_ps(k + d);
#pragma GCC unroll 8
      for (int i = 0; i < kScoreRows; ++i)
        acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qi[i] + d), kd, acc[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < kScoreRows; ++i)
      v[i] = _mm256_add_ps(_mm512_castps512_ps256(acc[i]),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[i]), 1)));
  } else
#endif
  {
    // 4 rows at a time: 8 accumulators and the key's two registers fit
    // AVX2's 16 with room for the products' operands.
    for (int h = 0; h < kScoreRows; h += 4) {
      __m256 acc0[4], acc1[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
      for (int64_t d = 0; d < hd; d += 16) {
        const __m256 k0 = _mm256_loadu_ps(k + d), k1 = _mm256_loadu_ps(k + d + 8);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(qi[h + i] + d), k0, acc0[i]);
          acc1[i] = _mm256_fmadd_ps(_mm256_loadu_ps(qi[h + i] + d + 8), k1, acc1[i]);
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) v[h + i] = _mm256_add_ps(acc0[i], acc1[i]);
    }
  }
  // Rows i and i + 4 share a register: [lanes j + lanes j + 4 of row i | of row i + 4].
  __m256 s[4];
  for (int i = 0; i < 4; ++i)
    s[i] = _mm256_add_ps(_mm256_permute2f128_ps(v[i], v[i + 4], 0x20),
                         _mm256_permute2f128_ps(v[i], v[i + 4], 0x31));
  // [0 + 2, 1 + 3 of rows i, i + 1 | of rows i + 4, i + 5].
  const __m256 t01 = _mm256_add_ps(_mm256_shuffle_ps(s[0], s[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm256_shuffle_ps(s[0], s[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 t23 = _mm256_add_ps(_mm256_shuffle_ps(s[2], s[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm256_shuffle_ps(s[2], s[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm256_add_ps(_mm256_shuffle_ps(t01, t23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm256_shuffle_ps(t01, t23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// The value pass for NR query rows and one register of dimensions from d: each
// row's accumulator stays in a register across the block's nb values (vb
// [nb][hd], f32), where it was loaded and stored for every value, and the NR
// rows' rounding chains (an FMA and two conversions per value, each waiting
// for the last) run side by side. fm, fv: the rows' factors [b][ld];
// rescale[b]: whether any row has a new maximum at value b. A row without one
// there takes the rescale too: times 1 and rounded is itself (it is f16
// already), so its bits are the same either way.
template <class R, int NR, int ND>
void value_rows(float* acc, const float* vb, int64_t nb, int64_t hd, int64_t d, const float* fm,
                const float* fv, int64_t ld, const float* rescale) {
  typename R::V a[NR][ND];
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < ND; ++j) a[i][j] = R::load(acc + i * hd + d + j * R::kWidth);
  for (int64_t b = 0; b < nb; ++b) {
    typename R::V x[ND];
    for (int j = 0; j < ND; ++j) x[j] = R::load(vb + b * hd + d + j * R::kWidth);
    if (rescale[b] != 0) {
      for (int i = 0; i < NR; ++i)
        for (int j = 0; j < ND; ++j) {
          const auto xs = R::to_f16(R::mul(a[i][j], R::set1(fm[b * ld + i])));
          a[i][j] = R::to_f16(R::fma(R::set1(fv[b * ld + i]), x[j], xs));
        }
    } else {  // llama.cpp's f16 accumulator: rounded after every value
      for (int i = 0; i < NR; ++i)
        for (int j = 0; j < ND; ++j)
          a[i][j] = R::to_f16(R::fma(R::set1(fv[b * ld + i]), x[j], a[i][j]));
    }
  }
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < ND; ++j) R::store(acc + i * hd + d + j * R::kWidth, a[i][j]);
}

// value_rows for n (1..NR) rows.
template <class R, int NR, int ND>
void value_rows_n(int n, float* acc, const float* vb, int64_t nb, int64_t hd, int64_t d,
                  const float* fm, const float* fv, int64_t ld, const float* rescale) {
  if constexpr (NR > 0) {
    if (n == NR) return value_rows<R, NR, ND>(acc, vb, nb, hd, d, fm, fv, ld, rescale);
    value_rows_n<R, NR - 1, ND>(n, acc, vb, nb, hd, d, fm, fv, ld, rescale);
  }
}

// See attend_rows_f16_avx2 (cpu_backend_kv.h); hd a multiple of 16 (and of
// R::kWidth), scratch attention_rows_scratch(n_rows, hd) floats.
template <class R>
void attend_rows_f16(const float* q, float* out, int n_rows, const uint16_t* k, const uint16_t* v,
                     int64_t nk, int64_t hd, float scale, float* scratch) {
  constexpr int64_t W = R::kWidth, B = kRowsKeyBlock;
  float* kvf = scratch;           // [hd] one key, f32
  float* qh = kvf + hd;           // [n_rows][hd] Q rounded to f16
  float* acc = qh + n_rows * hd;  // [n_rows][hd] the f16 accumulators, as f32
  // Rows padded to whole registers of scores; the padding's lanes repeat a
  // real row's arithmetic and are never read.
  const int64_t ld = (n_rows + kScoreRows - 1) / kScoreRows * kScoreRows;
  float* m = acc + n_rows * hd;  // [ld] running maximum score
  float* sum = m + ld;           // [ld] running softmax denominator
  float* sc = sum + ld;          // [B][ld] the block's scores
  float* fm = sc + ld * B;       // [B][ld] the accumulator's factors (ms)
  float* fv = fm + ld * B;       // [B][ld] the value's factors (vs)
  float* vb = fv + ld * B;       // [B][hd] the block's values, f32
  float* rescale = vb + B * hd;  // [B] 1 where any row has a new maximum
  for (int r = 0; r < n_rows; ++r) {
    for (int64_t d = 0; d < hd; d += W) {
      R::store(qh + r * hd + d, R::to_f16(R::load(q + r * hd + d)));
      R::store(acc + r * hd + d, R::zero());
    }
  }
  std::fill(m, m + ld, -INFINITY);
  std::fill(sum, sum + ld, 0.0f);
  for (int64_t j0 = 0; j0 < nk; j0 += B) {
    const int64_t nb = std::min(B, nk - j0);
    for (int64_t b = 0; b < nb; ++b) {  // scores
      // Keys are fetched kRowsKeysAhead ahead, each value while its block's
      // scores are computed: with the cache's rows holding every KV head,
      // generation at a depth of 4096 was 14% slower without this on an
      // Intel Xeon; with a head's keys one stream (cpu_backend_kv.h) it
      // still gains 10-19% over the hardware's prefetchers on Zen 5.
      if (j0 + b + kRowsKeysAhead < nk) prefetch_f16(k + (j0 + b + kRowsKeysAhead) * hd, hd);
      prefetch_f16(v + (j0 + b) * hd, hd);
      for (int64_t d = 0; d < hd; d += W) R::store(kvf + d, R::load_f16(k + (j0 + b) * hd + d));
      for (int r0 = 0; r0 < n_rows; r0 += kScoreRows)
        _mm256_storeu_ps(
            sc + b * ld + r0,
            _mm256_mul_ps(dot_rows8<R>(qh + r0 * hd, std::min(kScoreRows, n_rows - r0), kvf, hd),
                          _mm256_set1_ps(scale)));
    }
    // The online softmax's factors, 8 rows a register as the scores lie:
    // each row's running maximum, exp argument, factors and sum, key after
    // key, are attend_row_online's steps (the exps expf_libm.h's, the bits
    // of the scalar expf), and the 8 rows' dependent chains run side by
    // side. Row by row, the sums' FMA chain alone held the core for four
    // cycles a key and row, a quarter of the kernel's time (4096 positions,
    // Zen 5).
    std::fill(rescale, rescale + nb, 0.0f);
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int r0 = 0; r0 < n_rows; r0 += kScoreRows) {
      __m256 mr = _mm256_loadu_ps(m + r0), sr = _mm256_loadu_ps(sum + r0);
      for (int64_t b = 0; b < nb; ++b) {
        const __m256 score = _mm256_loadu_ps(sc + b * ld + r0);
        const __m256 up = _mm256_cmp_ps(score, mr, _CMP_GT_OQ);  // a new maximum
        const __m256 e =
            expf_libm8(_mm256_blendv_ps(_mm256_sub_ps(score, mr), _mm256_sub_ps(mr, score), up));
        mr = _mm256_blendv_ps(mr, score, up);
        const __m256 ms = _mm256_blendv_ps(one, e, up), vs = _mm256_blendv_ps(e, one, up);
        _mm256_storeu_ps(fm + b * ld + r0, ms);
        _mm256_storeu_ps(fv + b * ld + r0, vs);
        if (_mm256_movemask_ps(_mm256_cmp_ps(ms, one, _CMP_NEQ_UQ)) != 0) rescale[b] = 1;
        sr = _mm256_fmadd_ps(sr, ms, vs);  // llama.cpp's build contracts this to an FMA
      }
      _mm256_storeu_ps(m + r0, mr);
      _mm256_storeu_ps(sum + r0, sr);
    }
    for (int64_t b = 0; b < nb; ++b)  // the values, each converted once for all rows
      for (int64_t d = 0; d < hd; d += W)
        R::store(vb + b * hd + d, R::load_f16(v + (j0 + b) * hd + d));
    for (int r0 = 0; r0 < n_rows; r0 += kRowsAtOnce) {
      const int nr = std::min(kRowsAtOnce, n_rows - r0);
      int64_t d = 0;
      if constexpr (W == 16)
        for (; d + 2 * W <= hd; d += 2 * W)
          value_rows_n<R, kRowsAtOnce, 2>(nr, acc + r0 * hd, vb, nb, hd, d, fm + r0, fv + r0, ld,
                                          rescale);
      for (; d < hd; d += W)
        value_rows_n<R, kRowsAtOnce, 1>(nr, acc + r0 * hd, vb, nb, hd, d, fm + r0, fv + r0, ld,
                                        rescale);
    }
  }
  for (int r = 0; r < n_rows; ++r) {
    const float inv = sum[r] == 0 ? 0 : 1.0f / sum[r];
    for (int64_t d = 0; d < hd; ++d) out[r * hd + d] = acc[r * hd + d] * inv;
  }
}

}  // namespace
}  // namespace hearth::kernels
