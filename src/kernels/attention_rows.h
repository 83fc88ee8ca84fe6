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
// and the sums key after key, the exps in vectors); then the values into the
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
  return static_cast<size_t>((1 + 2 * n_rows + kRowsKeyBlock) * hd + 2 * n_rows +
                             (2 * n_rows + padded) * kRowsKeyBlock + kRowsKeyBlock);
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
  static V exp_le0(V x) { return expf_libm8(x); }
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
  static V exp_le0(V x) { return expf_libm16(x); }
};
#endif

// dot_avx2(q + i hd, k, hd) for the kScoreRows rows i below nr (the rest
// read as 0), one per lane: hd a multiple of 16, so dot_avx2's two
// accumulators over 16-element steps (one zmm on AVX-512: its halves are
// the two) and no tail; then its horizontal sum, for 8 rows at once, with
// each sum's pairs added as dot_avx2 adds them (its lanes i and i + 4, then
// those sums' 0 + 2 and 1 + 3, then the two), so each lane is the bits of
// dot_avx2. Per key and row that is about 1.5 instructions of summing where
// dot_avx2 spends 7.
template <class R>
inline __m256 dot_rows8(const float* q, int nr, const float* k, int64_t hd) {
  __m256 v[kScoreRows];
  for (int i = 0; i < kScoreRows; ++i) {
    if (i >= nr) {
      v[i] = _mm256_setzero_ps();
      continue;
    }
    const float* qi = q + i * hd;
#ifdef __AVX512F__
    if constexpr (R::kWidth == 16) {
      __m512 acc = _mm512_setzero_ps();
      for (int64_t d = 0; d < hd; d += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(qi + d), _mm512_loadu_ps(k + d), acc);
      v[i] = _mm256_add_ps(_mm512_castps512_ps256(acc),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
      continue;
    }
#endif
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; d += 16) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(qi + d), _mm256_loadu_ps(k + d), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(qi + d + 8), _mm256_loadu_ps(k + d + 8), acc1);
    }
    v[i] = _mm256_add_ps(acc0, acc1);
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
// for the last) run side by side. fm, fv: the rows' factors [row][kRowsKeyBlock];
// rescale[b]: whether any row has a new maximum at value b. A row without one
// there takes the rescale too: times 1 and rounded is itself (it is f16
// already), so its bits are the same either way.
template <class R, int NR, int ND>
void value_rows(float* acc, const float* vb, int64_t nb, int64_t hd, int64_t d, const float* fm,
                const float* fv, const float* rescale) {
  typename R::V a[NR][ND];
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < ND; ++j) a[i][j] = R::load(acc + i * hd + d + j * R::kWidth);
  for (int64_t b = 0; b < nb; ++b) {
    typename R::V x[ND];
    for (int j = 0; j < ND; ++j) x[j] = R::load(vb + b * hd + d + j * R::kWidth);
    if (rescale[b] != 0) {
      for (int i = 0; i < NR; ++i)
        for (int j = 0; j < ND; ++j) {
          const auto xs = R::to_f16(R::mul(a[i][j], R::set1(fm[i * kRowsKeyBlock + b])));
          a[i][j] = R::to_f16(R::fma(R::set1(fv[i * kRowsKeyBlock + b]), x[j], xs));
        }
    } else {  // llama.cpp's f16 accumulator: rounded after every value
      for (int i = 0; i < NR; ++i)
        for (int j = 0; j < ND; ++j)
          a[i][j] = R::to_f16(R::fma(R::set1(fv[i * kRowsKeyBlock + b]), x[j], a[i][j]));
    }
  }
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < ND; ++j) R::store(acc + i * hd + d + j * R::kWidth, a[i][j]);
}

// value_rows for n (1..NR) rows.
template <class R, int NR, int ND>
void value_rows_n(int n, float* acc, const float* vb, int64_t nb, int64_t hd, int64_t d,
                  const float* fm, const float* fv, const float* rescale) {
  if constexpr (NR > 0) {
    if (n == NR) return value_rows<R, NR, ND>(acc, vb, nb, hd, d, fm, fv, rescale);
    value_rows_n<R, NR - 1, ND>(n, acc, vb, nb, hd, d, fm, fv, rescale);
  }
}

// See attend_rows_f16_avx2 (cpu_backend_kv.h); hd a multiple of 16 (and of
// R::kWidth), scratch attention_rows_scratch(n_rows, hd) floats.
template <class R>
void attend_rows_f16(const float* q, float* out, int n_rows, const uint16_t* k, const uint16_t* v,
                     int64_t stride, int64_t nk, int64_t hd, float scale, float* scratch) {
  constexpr int64_t W = R::kWidth, B = kRowsKeyBlock;
  float* kvf = scratch;           // [hd] one key, then one value, f32
  float* qh = kvf + hd;           // [n_rows][hd] Q rounded to f16
  float* acc = qh + n_rows * hd;  // [n_rows][hd] the f16 accumulators, as f32
  float* m = acc + n_rows * hd;   // [n_rows] running maximum score
  float* sum = m + n_rows;        // [n_rows] running softmax denominator
  const int64_t ld = (n_rows + kScoreRows - 1) / kScoreRows * kScoreRows;
  float* sc = sum + n_rows;      // [B][ld] the block's scores
  float* fm = sc + ld * B;       // [n_rows][B] the accumulator's factors (ms)
  float* fv = fm + n_rows * B;   // [n_rows][B] the value's factors (vs)
  float* vb = fv + n_rows * B;   // [B][hd] the block's values, f32
  float* rescale = vb + B * hd;  // [B] 1 where any row has a new maximum
  for (int r = 0; r < n_rows; ++r) {
    for (int64_t d = 0; d < hd; d += W) {
      R::store(qh + r * hd + d, R::to_f16(R::load(q + r * hd + d)));
      R::store(acc + r * hd + d, R::zero());
    }
    m[r] = -INFINITY;
    sum[r] = 0;
  }
  for (int64_t j0 = 0; j0 < nk; j0 += B) {
    const int64_t nb = std::min(B, nk - j0);
    for (int64_t b = 0; b < nb; ++b) {  // scores
      // The cache holds every KV head of a position in one row, so this
      // head's keys are hd values every `stride`: too sparse for the
      // hardware's prefetchers (without these, generation at a depth of 4096
      // was 14% slower on an Intel Xeon). Keys are fetched kRowsKeysAhead
      // ahead, each value while its block's scores are computed.
      if (j0 + b + kRowsKeysAhead < nk) prefetch_f16(k + (j0 + b + kRowsKeysAhead) * stride, hd);
      prefetch_f16(v + (j0 + b) * stride, hd);
      for (int64_t d = 0; d < hd; d += W) R::store(kvf + d, R::load_f16(k + (j0 + b) * stride + d));
      for (int r0 = 0; r0 < n_rows; r0 += kScoreRows)
        _mm256_storeu_ps(
            sc + b * ld + r0,
            _mm256_mul_ps(dot_rows8<R>(qh + r0 * hd, std::min(kScoreRows, n_rows - r0), kvf, hd),
                          _mm256_set1_ps(scale)));
    }
    // The online softmax's factors. Which keys bring a new maximum, and so
    // every exp's argument, follow from the scores alone: found first, key
    // after key, then the exps taken R::kWidth at a time (expf_libm.h: the
    // bits of the scalar expf, which took a third of the time at a depth of
    // 4096), then the sums, in order.
    std::fill(rescale, rescale + nb, 0.0f);
    for (int r = 0; r < n_rows; ++r) {
      float mr = m[r], sr = sum[r];
      float* arg = fm + r * B;  // the exp's argument, then its value
      float* up = fv + r * B;   // 1 where the key is a new maximum
      for (int64_t b = 0; b < nb; ++b) {
        const float score = sc[b * ld + r];
        if (score > mr) {
          arg[b] = mr - score;
          up[b] = 1;
          mr = score;
        } else {
          arg[b] = score - mr;
          up[b] = 0;
        }
      }
      for (int64_t b = nb; b % W != 0; ++b) arg[b] = 0;  // the last register's unused lanes
      for (int64_t b = 0; b < nb; b += W) R::store(arg + b, R::exp_le0(R::load(arg + b)));
      for (int64_t b = 0; b < nb; ++b) {
        const float e = arg[b];
        const float ms = up[b] != 0 ? e : 1.0f, vs = up[b] != 0 ? 1.0f : e;
        fm[r * B + b] = ms;
        fv[r * B + b] = vs;
        if (ms != 1) rescale[b] = 1;
        sr = std::fma(sr, ms, vs);  // llama.cpp's build contracts this to an FMA
      }
      m[r] = mr;
      sum[r] = sr;
    }
    for (int64_t b = 0; b < nb; ++b)  // the values, each converted once for all rows
      for (int64_t d = 0; d < hd; d += W)
        R::store(vb + b * hd + d, R::load_f16(v + (j0 + b) * stride + d));
    for (int r0 = 0; r0 < n_rows; r0 += kRowsAtOnce) {
      const int nr = std::min(kRowsAtOnce, n_rows - r0);
      int64_t d = 0;
      if constexpr (W == 16)
        for (; d + 2 * W <= hd; d += 2 * W)
          value_rows_n<R, kRowsAtOnce, 2>(nr, acc + r0 * hd, vb, nb, hd, d, fm + r0 * B,
                                          fv + r0 * B, rescale);
      for (; d < hd; d += W)
        value_rows_n<R, kRowsAtOnce, 1>(nr, acc + r0 * hd, vb, nb, hd, d, fm + r0 * B, fv + r0 * B,
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
