// AVX-512 VNNI tiles over row-interleaved Q4_0/Q8_0 weights (repack.h): each
// tile keeps R groups of 16 rows x T tokens of int32 block sums and f32
// accumulators in zmm registers; vpdpbusd multiplies 4 unsigned weights of 16
// rows by 4 broadcast activations per instruction.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm_packed.h"
#include "quant/fp16.h"

namespace hearth::kernels {
namespace {

using ActView = Q8Acts;  // gemm_packed.h

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Q4_0 and Q8_0: R row groups starting at `group`, T tokens starting at t0.
// Each 32-weight block's products are summed exactly in int32 (vpdpbusd on
// the unsigned weights, starting from the activations' offset correction),
// then scaled once: acc += sum * (d_w d_x), one convert and one FMA per block,
// row and token. For Q8_0 this is not llama.cpp's rounding: its vector dot
// keeps 8 f32 partial sums a row, each scaled every block, which costs a
// convert and an FMA per vpdpbusd and held Q8_0's prefill to half of Q4_0's
// rate per core. The integers of a block are the same either way.
// Q4_0's 4 loads a block give 8 operands (low nibbles: weights 4L..4L+3, high:
// 16+4L..16+4L+3); Q8_0's 8 loads give weights 4L..4L+3 each.
template <int R, int T, bool kQ4>
void tile_q(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
            int64_t t0, float* y, int64_t y_stride, int64_t n_rows) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const uint8_t* wq[R];
  const uint16_t* wd[R];
  for (int r = 0; r < R; ++r) {
    wq[r] = packed + (group + r) * l.group_bytes;
    wd[r] = reinterpret_cast<const uint16_t*>(wq[r] + l.blocks * l.quant_bytes_per_block);
  }
  const int8_t* aq[T];
  const float* ad[T];
  const int32_t* ac[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), ac[t] = a.corr(t0 + t);
  const __m512i low4 = _mm512_set1_epi8(0x0F);

  for (int64_t b = 0; b < l.blocks; ++b) {
    __m512i s[R][T];
    for (int t = 0; t < T; ++t) {
      const __m512i c = _mm512_set1_epi32(ac[t][b]);
      for (int r = 0; r < R; ++r) s[r][t] = c;
    }
    const size_t qoff = b * l.quant_bytes_per_block;
    // Q8_0's decode reads memory at the machine's speed without (it does half
    // of Q4_0's work per byte): the prefetches only cost it.
    if constexpr (T == 1 && kQ4)
      for (int r = 0; r < R; ++r) {
        prefetch_lines(wq[r] + qoff + kDecodeAhead, 4);
        prefetch_lines(wd[r] + (b + 16) * kPackRows, 1);
      }
    if constexpr (kQ4) {
#pragma GCC unroll 4
      for (int L = 0; L < 4; ++L) {
        __m512i lo[R], hi[R];
        for (int r = 0; r < R; ++r) {
          const __m512i w = _mm512_load_si512(wq[r] + qoff + 64 * L);
          lo[r] = _mm512_and_si512(w, low4);
          hi[r] = _mm512_and_si512(_mm512_srli_epi16(w, 4), low4);
        }
        for (int t = 0; t < T; ++t) {
          const __m512i x0 = bcast4(aq[t] + 32 * b + 4 * L);
          const __m512i x1 = bcast4(aq[t] + 32 * b + 16 + 4 * L);
          for (int r = 0; r < R; ++r) {
            s[r][t] = _mm512_dpbusd_epi32(s[r][t], lo[r], x0);
            s[r][t] = _mm512_dpbusd_epi32(s[r][t], hi[r], x1);
          }
        }
      }
    } else {
#pragma GCC unroll 8
      for (int L = 0; L < 8; ++L) {
        __m512i w[R];
        for (int r = 0; r < R; ++r) w[r] = _mm512_load_si512(wq[r] + qoff + 64 * L);
        for (int t = 0; t < T; ++t) {
          const __m512i x = bcast4(aq[t] + 32 * b + 4 * L);
          for (int r = 0; r < R; ++r) s[r][t] = _mm512_dpbusd_epi32(s[r][t], w[r], x);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 dw = _mm512_cvtph_ps(
          _mm256_load_si256(reinterpret_cast<const __m256i*>(wd[r] + b * kPackRows)));
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r][t]),
                                    _mm512_mul_ps(dw, _mm512_set1_ps(ad[t][b])), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t row0 = (group + r) * kPackRows;
    const int64_t valid = std::min<int64_t>(kPackRows, n_rows - row0);
    const __mmask16 m = valid >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << valid) - 1);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + row0, m, acc[r][t]);
  }
}

// One call of the tile for nt (1..kMaxT) tokens.
template <int R, int kMaxT, template <int, int> class Tile>
void tile_tokens(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                 int64_t t0, int nt, float* y, int64_t y_stride, int64_t n_rows) {
  if constexpr (kMaxT > 0) {
    if (nt == kMaxT) return Tile<R, kMaxT>::run(l, packed, group, a, t0, y, y_stride, n_rows);
    tile_tokens<R, kMaxT - 1, Tile>(l, packed, group, a, t0, nt, y, y_stride, n_rows);
  }
}

template <int R, int T>
struct Q4Tile {
  static void run(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                  int64_t t0, float* y, int64_t y_stride, int64_t n_rows) {
    tile_q<R, T, true>(l, packed, group, a, t0, y, y_stride, n_rows);
  }
};
template <int R, int T>
struct Q8Tile {
  static void run(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                  int64_t t0, float* y, int64_t y_stride, int64_t n_rows) {
    tile_q<R, T, false>(l, packed, group, a, t0, y, y_stride, n_rows);
  }
};

// Token blocking: one block's activations (about 1.1 KB per 1024 columns per
// token) stay in L2 while the thread's rows stream through L1.
constexpr int64_t kTokenBlock = 48;

// Tiles of kRowGroups row groups x kTileTokens tokens over [g_begin, g_end) x
// all tokens.
template <int kRowGroups, int kTileTokens, template <int, int> class Tile>
void gemm_tiles(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
                int64_t n_rows, const ActView& a, int64_t n_tokens, float* y, int64_t y_stride) {
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    int64_t g = g_begin;
    for (; g + kRowGroups <= g_end; g += kRowGroups)
      for (int64_t t = t0; t < t1; t += kTileTokens)
        tile_tokens<kRowGroups, kTileTokens, Tile>(
            l, packed, g, a, t, static_cast<int>(std::min<int64_t>(kTileTokens, t1 - t)), y,
            y_stride, n_rows);
    for (; g < g_end; ++g)
      for (int64_t t = t0; t < t1; t += kTileTokens)
        tile_tokens<1, kTileTokens, Tile>(l, packed, g, a, t,
                                          static_cast<int>(std::min<int64_t>(kTileTokens, t1 - t)),
                                          y, y_stride, n_rows);
  }
}

// Q4_0 (kQ4) or Q8_0 over [g_begin, g_end) x all tokens. A token's row sums
// are added in the same order by every tile, so its output does not depend on
// the batch it is in.
template <bool kQ4>
void gemm_q(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
            int64_t n_rows, const ActView& a, int64_t n_tokens, float* y, int64_t y_stride) {
  if (n_tokens == 1) {
    // Matrix x vector: 4 row groups per tile, 4 independent vpdpbusd chains and
    // 4 streams from memory per thread (one group's single stream read the
    // output matrix at about half the speed).
    int64_t g = g_begin;
    for (; g + 4 <= g_end; g += 4) tile_q<4, 1, kQ4>(l, packed, g, a, 0, y, y_stride, n_rows);
    for (; g < g_end; ++g) tile_q<1, 1, kQ4>(l, packed, g, a, 0, y, y_stride, n_rows);
    return;
  }
  // 2 x 6 tiles: 12 int32 sums + 12 accumulators + 4 weights of 32 zmm.
  if constexpr (kQ4)
    gemm_tiles<2, 6, Q4Tile>(l, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
  else
    gemm_tiles<2, 6, Q8Tile>(l, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
}

}  // namespace

void prepare_packed_activations_avx512(const float* x, int64_t cols, int offset, uint8_t* dst) {
  auto* q = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + cols);
  auto* corr = reinterpret_cast<int32_t*>(dst + cols + cols / 32 * 4);
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const __m512 a16 = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
    __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(a16),
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a16), 1)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(i1));
    const __m512i s = _mm512_add_epi32(i0, i1);
    __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    corr[b] = -offset * _mm_cvtsi128_si32(s4);
    d[b] = quant::fp16_to_fp32(quant::fp32_to_fp16(amax / 127.f));
  }
}

void gemm_packed_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                        int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                        float* y, int64_t y_stride) {
  const ActView a{acts, packed_activation_stride(layout.blocks * 32), layout.blocks * 32};
  if (layout.offset == 8)
    gemm_q<true>(layout, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
  else
    gemm_q<false>(layout, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
}

}  // namespace hearth::kernels
