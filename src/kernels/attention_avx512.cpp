// The tiled path of cpu_backend_attention.cpp on AVX-512: one KV head, a block
// of query rows (token x query head of the group), f32 throughout.
//
// Why tiles: row by row, each score is a 64-value dot product ending in a
// horizontal sum, and each weighted value an axpy reloading the row's output;
// on a 512-token prompt that was about a third of the matmuls' time. Here 32
// query rows share every key and value load:
//   scores   S^T[j][lane] = scale * sum_d K[j][d] Q^T[d][lane], 32 lanes (two
//            zmm) x 8 keys of accumulators, Q transposed once per chunk;
//   softmax  per lane down the key axis, exp as ggml's vector exp (exp_ggml);
//   output   O[row][d] = sum_j P^T[j][lane] V[j][d] / sum, 6 rows x 64 values
//            of accumulators.
// Causality: lane i sees keys 0 .. limit(i) - 1; later keys score -inf.
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention_rows.h"
#include "kernels/cpu_backend_kv.h"
#include "kernels/exp_avx512.h"

namespace hearth::kernels {
namespace {

constexpr int kLanes = 32;  // query rows per chunk (two zmm)
constexpr int kKeys = 8;    // keys per score tile
constexpr int kRows = 6;    // query rows per output tile

// st[j][0..31] = scale * (q^T . k_j) for keys [0, n_keys); qt is [hd][32].
void scores(const float* qt, const float* kf, int64_t n_keys, int64_t hd, float scale, float* st) {
  const __m512 vs = _mm512_set1_ps(scale);
  int64_t j = 0;
  for (; j + kKeys <= n_keys; j += kKeys) {
    __m512 acc[kKeys][2];
    for (int k = 0; k < kKeys; ++k) acc[k][0] = acc[k][1] = _mm512_setzero_ps();
    const float* k0 = kf + j * hd;
    for (int64_t d = 0; d < hd; ++d) {
      const __m512 q0 = _mm512_loadu_ps(qt + d * kLanes),
                   q1 = _mm512_loadu_ps(qt + d * kLanes + 16);
      for (int k = 0; k < kKeys; ++k) {
        const __m512 kv = _mm512_set1_ps(k0[k * hd + d]);
        acc[k][0] = _mm512_fmadd_ps(kv, q0, acc[k][0]);
        acc[k][1] = _mm512_fmadd_ps(kv, q1, acc[k][1]);
      }
    }
    for (int k = 0; k < kKeys; ++k) {
      _mm512_storeu_ps(st + (j + k) * kLanes, _mm512_mul_ps(acc[k][0], vs));
      _mm512_storeu_ps(st + (j + k) * kLanes + 16, _mm512_mul_ps(acc[k][1], vs));
    }
  }
  for (; j < n_keys; ++j) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; ++d) {
      const __m512 kv = _mm512_set1_ps(kf[j * hd + d]);
      a0 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(qt + d * kLanes), a0);
      a1 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(qt + d * kLanes + 16), a1);
    }
    _mm512_storeu_ps(st + j * kLanes, _mm512_mul_ps(a0, vs));
    _mm512_storeu_ps(st + j * kLanes + 16, _mm512_mul_ps(a1, vs));
  }
}

// out[row][0..hd) += sum_j st[j][lane0 + r] v[j] for R rows, 64 values at c0.
template <int R>
void weighted_values(const float* st, int lane0, const float* vf, int64_t n_keys, int64_t hd,
                     int64_t c0, const float* inv, float* const* out) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_keys; ++j) {
    __m512 v[4];
    for (int c = 0; c < 4; ++c) v[c] = _mm512_loadu_ps(vf + j * hd + c0 + 16 * c);
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(st[j * kLanes + lane0 + r]);
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_fmadd_ps(p, v[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c)
      _mm512_storeu_ps(out[r] + c0 + 16 * c, _mm512_mul_ps(acc[r][c], _mm512_set1_ps(inv[r])));
}

// The same for hd % 64 != 0: 16 values at c0.
void weighted_values16(const float* st, int lane, const float* vf, int64_t n_keys, int64_t hd,
                       int64_t c0, float inv, float* out) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_keys; ++j)
    acc = _mm512_fmadd_ps(_mm512_set1_ps(st[j * kLanes + lane]), _mm512_loadu_ps(vf + j * hd + c0),
                          acc);
  _mm512_storeu_ps(out + c0, _mm512_mul_ps(acc, _mm512_set1_ps(inv)));
}

}  // namespace

void attend_tiled_avx512(const float* q, const float* kf, const float* vf, int64_t t0, int64_t t1,
                         int64_t pos0, int64_t h0, int64_t group, int64_t n_heads, int64_t hd,
                         float scale, float* scratch, float* out) {
  const int64_t n_rows = (t1 - t0) * group;
  float* qt = scratch;           // [hd][32]
  float* st = qt + hd * kLanes;  // [n_keys][32]
  for (int64_t r0 = 0; r0 < n_rows; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, n_rows - r0));
    float* orow[kLanes];
    alignas(64) int32_t limit[kLanes];
    attention_tile_rows(q, out, t0, pos0, h0, group, n_heads, hd, r0, n, kLanes, orow, limit, qt);
    const int64_t lo = limit[0], hi = limit[kLanes - 1];  // rows are in token order
    scores(qt, kf, hi, hd, scale, st);
    // Keys at or past a lane's limit: -inf (exp gives 0).
    const __m512i lim0 = _mm512_load_si512(limit), lim1 = _mm512_load_si512(limit + 16);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t j = lo; j < hi; ++j) {
      const __m512i vj = _mm512_set1_epi32(static_cast<int32_t>(j));
      float* s = st + j * kLanes;
      _mm512_mask_storeu_ps(s, _mm512_cmpge_epi32_mask(vj, lim0), ninf);
      _mm512_mask_storeu_ps(s + 16, _mm512_cmpge_epi32_mask(vj, lim1), ninf);
    }
    // Softmax down each lane; the sums divide the output at the end.
    __m512 m0 = ninf, m1 = ninf;
    for (int64_t j = 0; j < hi; ++j) {
      m0 = _mm512_max_ps(m0, _mm512_loadu_ps(st + j * kLanes));
      m1 = _mm512_max_ps(m1, _mm512_loadu_ps(st + j * kLanes + 16));
    }
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (int64_t j = 0; j < hi; ++j) {
      float* s = st + j * kLanes;
      const __m512 e0 = ops::avx512::exp_ggml(_mm512_sub_ps(_mm512_loadu_ps(s), m0));
      const __m512 e1 = ops::avx512::exp_ggml(_mm512_sub_ps(_mm512_loadu_ps(s + 16), m1));
      _mm512_storeu_ps(s, e0);
      _mm512_storeu_ps(s + 16, e1);
      s0 = _mm512_add_ps(s0, e0);
      s1 = _mm512_add_ps(s1, e1);
    }
    alignas(64) float inv[kLanes];
    _mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), s0));
    _mm512_store_ps(inv + 16, _mm512_div_ps(_mm512_set1_ps(1.0f), s1));
    // Keys past a lane's limit have weight 0, so every lane may run to hi.
    int i = 0;
    for (; i + kRows <= n; i += kRows) {
      int64_t c0 = 0;
      for (; c0 + 64 <= hd; c0 += 64)
        weighted_values<kRows>(st, i, vf, hi, hd, c0, inv + i, orow + i);
      for (; c0 < hd; c0 += 16)
        for (int r = i; r < i + kRows; ++r)
          weighted_values16(st, r, vf, hi, hd, c0, inv[r], orow[r]);
    }
    for (; i < n; ++i) {
      int64_t c0 = 0;
      for (; c0 + 64 <= hd; c0 += 64) weighted_values<1>(st, i, vf, hi, hd, c0, inv + i, orow + i);
      for (; c0 < hd; c0 += 16) weighted_values16(st, i, vf, hi, hd, c0, inv[i], orow[i]);
    }
  }
}

void attend_rows_f16_avx512(const float* q, float* out, int n_rows, const uint16_t* k,
                            const uint16_t* v, int64_t nk, int64_t hd, float scale,
                            float* scratch) {
  attend_rows_f16<Zmm16>(q, out, n_rows, k, v, nk, hd, scale, scratch);
}

void expf_libm_avx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, expf_libm8(_mm256_loadu_ps(x + i)));
}

}  // namespace hearth::kernels
