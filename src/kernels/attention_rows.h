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
// scores; every row's softmax factors, key after key (the arithmetic that must
// stay in order, all scalar); then the values into the accumulators. The
// operations and their order for each row and key are attend_row_online's,
// element by element, so the bits are too, whatever the register width.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dot_avx2.h"

namespace hearth::kernels {
namespace {  // compiled per instruction set: see gemm_packed.h

constexpr int64_t kRowsKeyBlock = 64;   // keys per block of the three passes
constexpr int64_t kRowsKeysAhead = 16;  // how far ahead keys are fetched

// Floats of scratch attend_rows_f16 needs.
inline size_t attention_rows_scratch(int64_t n_rows, int64_t hd) {
  return static_cast<size_t>((1 + 2 * n_rows) * hd + 2 * n_rows + 3 * n_rows * kRowsKeyBlock);
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
  float* sc = sum + n_rows;       // [n_rows][B] the block's scores
  float* fm = sc + n_rows * B;    // [n_rows][B] the accumulator's factors (ms)
  float* fv = fm + n_rows * B;    // [n_rows][B] the value's factors (vs)
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
      for (int r = 0; r < n_rows; ++r) sc[r * B + b] = dot_avx2(qh + r * hd, kvf, hd) * scale;
    }
    for (int r = 0; r < n_rows; ++r) {  // the online softmax's factors
      float mr = m[r], sr = sum[r];
      for (int64_t b = 0; b < nb; ++b) {
        const float score = sc[r * B + b];
        float ms = 1, vs = 1;
        if (score > mr) {
          ms = std::exp(mr - score);
          mr = score;
        } else {
          vs = std::exp(score - mr);
        }
        fm[r * B + b] = ms;
        fv[r * B + b] = vs;
        sr = std::fma(sr, ms, vs);  // llama.cpp's build contracts this to an FMA
      }
      m[r] = mr;
      sum[r] = sr;
    }
    for (int64_t b = 0; b < nb; ++b) {  // the values
      for (int64_t d = 0; d < hd; d += W) R::store(kvf + d, R::load_f16(v + (j0 + b) * stride + d));
      for (int r = 0; r < n_rows; ++r) {
        const float ms = fm[r * B + b];
        float* a = acc + r * hd;
        const auto vvs = R::set1(fv[r * B + b]);
        if (ms != 1) {  // a new maximum: the accumulator rescaled, rounded, then the value added
          const auto vms = R::set1(ms);
          for (int64_t d = 0; d < hd; d += W) {
            const auto x = R::to_f16(R::mul(R::load(a + d), vms));
            R::store(a + d, R::to_f16(R::fma(vvs, R::load(kvf + d), x)));
          }
        } else {  // llama.cpp's f16 accumulator: rounded after every value
          for (int64_t d = 0; d < hd; d += W)
            R::store(a + d, R::to_f16(R::fma(vvs, R::load(kvf + d), R::load(a + d))));
        }
      }
    }
  }
  for (int r = 0; r < n_rows; ++r) {
    const float inv = sum[r] == 0 ? 0 : 1.0f / sum[r];
    for (int64_t d = 0; d < hd; ++d) out[r * hd + d] = acc[r * hd + d] * inv;
  }
}

}  // namespace
}  // namespace hearth::kernels
