// The tiled path of cpu_backend_attention.cpp on AVX2: the AVX-512 tiles of
// attention_avx512.cpp (which say why tiles pay) at half the width, sized for
// 16 ymm registers:
//   scores   16 query rows (two ymm) x 6 keys of accumulators, Q transposed
//            once per chunk;
//   softmax  per lane down the key axis, exp as ggml's vector exp;
//   output   4 rows x 16 values of accumulators.
// Causality: lane i sees keys 0 .. limit(i) - 1; later keys score -inf.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention_rows.h"
#include "kernels/cpu_backend_kv.h"
#include "kernels/ops.h"

namespace hearth::kernels {
namespace {

constexpr int kLanes = 16;  // query rows per chunk (two ymm)
constexpr int kKeys = 6;    // keys per score tile
constexpr int kRows = 4;    // query rows per output tile

// ops::exp_ggml on 8 lanes, the same fused steps; 2^n built in the exponent
// field, exact for |n| <= 126. Lanes beyond (scores more than 87 below the
// row's maximum, or -inf) go through the scalar function.
inline __m256 exp_ggml(__m256 x) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(126),
                                   _CMP_NLE_UQ);  // NaN too
  if (_mm256_movemask_ps(big)) {
    alignas(32) float v[8];
    _mm256_store_ps(v, x);
    for (float& e : v) e = ops::exp_ggml(e);
    return _mm256_load_ps(v);
  }
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(j, _mm256_castsi256_ps(e));
}

// st[j][0..15] = scale * (q^T . k_j) for keys [0, n_keys); qt is [hd][16].
void scores(const float* qt, const float* kf, int64_t n_keys, int64_t hd, float scale, float* st) {
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + kKeys <= n_keys; j += kKeys) {
    __m256 acc[kKeys][2];
    for (int k = 0; k < kKeys; ++k) acc[k][0] = acc[k][1] = _mm256_setzero_ps();
    const float* k0 = kf + j * hd;
    for (int64_t d = 0; d < hd; ++d) {
      const __m256 q0 = _mm256_loadu_ps(qt + d * kLanes), q1 = _mm256_loadu_ps(qt + d * kLanes + 8);
      for (int k = 0; k < kKeys; ++k) {
        const __m256 kv = _mm256_broadcast_ss(k0 + k * hd + d);
        acc[k][0] = _mm256_fmadd_ps(kv, q0, acc[k][0]);
        acc[k][1] = _mm256_fmadd_ps(kv, q1, acc[k][1]);
      }
    }
    for (int k = 0; k < kKeys; ++k) {
      _mm256_storeu_ps(st + (j + k) * kLanes, _mm256_mul_ps(acc[k][0], vs));
      _mm256_storeu_ps(st + (j + k) * kLanes + 8, _mm256_mul_ps(acc[k][1], vs));
    }
  }
  for (; j < n_keys; ++j) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; ++d) {
      const __m256 kv = _mm256_broadcast_ss(kf + j * hd + d);
      a0 = _mm256_fmadd_ps(kv, _mm256_loadu_ps(qt + d * kLanes), a0);
      a1 = _mm256_fmadd_ps(kv, _mm256_loadu_ps(qt + d * kLanes + 8), a1);
    }
    _mm256_storeu_ps(st + j * kLanes, _mm256_mul_ps(a0, vs));
    _mm256_storeu_ps(st + j * kLanes + 8, _mm256_mul_ps(a1, vs));
  }
}

// out[row][c0 .. c0 + 16) = inv[r] * sum_j st[j][lane0 + r] v[j] for R rows.
template <int R>
void weighted_values(const float* st, int lane0, const float* vf, int64_t n_keys, int64_t hd,
                     int64_t c0, const float* inv, float* const* out) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t j = 0; j < n_keys; ++j) {
    const __m256 v0 = _mm256_loadu_ps(vf + j * hd + c0), v1 = _mm256_loadu_ps(vf + j * hd + c0 + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 p = _mm256_broadcast_ss(st + j * kLanes + lane0 + r);
      acc[r][0] = _mm256_fmadd_ps(p, v0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(p, v1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m256 s = _mm256_set1_ps(inv[r]);
    _mm256_storeu_ps(out[r] + c0, _mm256_mul_ps(acc[r][0], s));
    _mm256_storeu_ps(out[r] + c0 + 8, _mm256_mul_ps(acc[r][1], s));
  }
}

}  // namespace

void attend_tiled_avx2(const float* q, const float* kf, const float* vf, int64_t t0, int64_t t1,
                       int64_t pos0, int64_t h0, int64_t group, int64_t n_heads, int64_t hd,
                       float scale, float* scratch, float* out) {
  const int64_t n_rows = (t1 - t0) * group;
  float* qt = scratch;           // [hd][16]
  float* st = qt + hd * kLanes;  // [n_keys][16]
  for (int64_t r0 = 0; r0 < n_rows; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, n_rows - r0));
    float* orow[kLanes];
    alignas(32) int32_t limit[kLanes];
    attention_tile_rows(q, out, t0, pos0, h0, group, n_heads, hd, r0, n, kLanes, orow, limit, qt);
    const int64_t lo = limit[0], hi = limit[kLanes - 1];  // rows are in token order
    scores(qt, kf, hi, hd, scale, st);
    // Keys at or past a lane's limit: -inf (exp gives 0).
    const __m256i lim0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(limit));
    const __m256i lim1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(limit + 8));
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t j = lo; j < hi; ++j) {
      const __m256i vj = _mm256_set1_epi32(static_cast<int32_t>(j));
      float* s = st + j * kLanes;
      // j >= limit, as limit > j is false.
      const __m256 past0 = _mm256_castsi256_ps(
          _mm256_xor_si256(_mm256_cmpgt_epi32(lim0, vj), _mm256_set1_epi32(-1)));
      const __m256 past1 = _mm256_castsi256_ps(
          _mm256_xor_si256(_mm256_cmpgt_epi32(lim1, vj), _mm256_set1_epi32(-1)));
      _mm256_storeu_ps(s, _mm256_blendv_ps(_mm256_loadu_ps(s), ninf, past0));
      _mm256_storeu_ps(s + 8, _mm256_blendv_ps(_mm256_loadu_ps(s + 8), ninf, past1));
    }
    // Softmax down each lane; the sums divide the output at the end.
    __m256 m0 = ninf, m1 = ninf;
    for (int64_t j = 0; j < hi; ++j) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(st + j * kLanes));
      m1 = _mm256_max_ps(m1, _mm256_loadu_ps(st + j * kLanes + 8));
    }
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int64_t j = 0; j < hi; ++j) {
      float* s = st + j * kLanes;
      const __m256 e0 = exp_ggml(_mm256_sub_ps(_mm256_loadu_ps(s), m0));
      const __m256 e1 = exp_ggml(_mm256_sub_ps(_mm256_loadu_ps(s + 8), m1));
      _mm256_storeu_ps(s, e0);
      _mm256_storeu_ps(s + 8, e1);
      s0 = _mm256_add_ps(s0, e0);
      s1 = _mm256_add_ps(s1, e1);
    }
    alignas(32) float inv[kLanes];
    _mm256_store_ps(inv, _mm256_div_ps(_mm256_set1_ps(1.0f), s0));
    _mm256_store_ps(inv + 8, _mm256_div_ps(_mm256_set1_ps(1.0f), s1));
    // Keys past a lane's limit have weight 0, so every lane may run to hi.
    int i = 0;
    for (; i + kRows <= n; i += kRows)
      for (int64_t c0 = 0; c0 < hd; c0 += 16)
        weighted_values<kRows>(st, i, vf, hi, hd, c0, inv + i, orow + i);
    for (; i < n; ++i)
      for (int64_t c0 = 0; c0 < hd; c0 += 16)
        weighted_values<1>(st, i, vf, hi, hd, c0, inv + i, orow + i);
  }
}

size_t attention_row_scratch_floats(int64_t n_rows, int64_t hd) {
  return attention_rows_scratch(n_rows, hd);
}

void attend_rows_f16_avx2(const float* q, float* out, int n_rows, const uint16_t* k,
                          const uint16_t* v, int64_t nk, int64_t hd, float scale, float* scratch) {
  attend_rows_f16<Ymm8>(q, out, n_rows, k, v, nk, hd, scale, scratch);
}

void expf_libm_avx2(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, expf_libm8(_mm256_loadu_ps(x + i)));
}

}  // namespace hearth::kernels
