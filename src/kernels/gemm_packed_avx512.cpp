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

struct ActView {
  const uint8_t* base;
  size_t stride;
  int64_t cols;
  const int8_t* q(int64_t t) const { return reinterpret_cast<const int8_t*>(base + t * stride); }
  const float* d(int64_t t) const {
    return reinterpret_cast<const float*>(base + t * stride + cols);
  }
  const int32_t* corr(int64_t t) const {
    return reinterpret_cast<const int32_t*>(base + t * stride + cols + cols / 32 * 4);
  }
  const int32_t* corr4(int64_t t) const {
    return reinterpret_cast<const int32_t*>(base + t * stride + cols + cols / 32 * 8);
  }
};

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Q8_0 in llama.cpp's order (ggml_vec_dot_q8_0_q8_0 and its llamafile tile):
// 8 f32 sums per row, lane L adding d_w d_x (sum of weights 4L..4L+3 times
// activations) block by block, then added pairwise ((0+4)+(2+6))+((1+5)+(3+7)).
// Its rounding steps, kept bit for bit: q8_0 activations round to the grid
// again at the next matmul, so any last-bit difference can grow.
// The lanes are independent sums until that last step, so the tile takes them
// P at a time over all blocks: P x R x T accumulators fit the 32 zmm registers
// (all 8 x 2 x 6 of a Q4_0-sized tile spilled to the stack: 1.4x the CPU time
// of these tiles on TinyLlama's FFN matrix, 512 tokens).
template <int R, int T, int P>
void tile_q8(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
             int64_t t0, float* y, int64_t y_stride, int64_t n_rows) {
  static_assert(8 % P == 0);
  const uint8_t* wq[R];
  const uint16_t* wd[R];
  for (int r = 0; r < R; ++r) {
    wq[r] = packed + (group + r) * l.group_bytes;
    wd[r] = reinterpret_cast<const uint16_t*>(wq[r] + l.blocks * l.quant_bytes_per_block);
  }
  __m512 lanes[8][R][T];  // the finished lane sums (stack; written once per pass)
  for (int L0 = 0; L0 < 8; L0 += P) {
    __m512 acc[P][R][T];
    for (int L = 0; L < P; ++L)
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[L][r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < l.blocks; ++b) {
      __m512 d[R][T];
      for (int r = 0; r < R; ++r) {
        const __m512 dw = _mm512_cvtph_ps(
            _mm256_load_si256(reinterpret_cast<const __m256i*>(wd[r] + b * kPackRows)));
        for (int t = 0; t < T; ++t) d[r][t] = _mm512_mul_ps(dw, _mm512_set1_ps(a.d(t0 + t)[b]));
      }
#pragma GCC unroll 8
      for (int L = 0; L < P; ++L) {
        __m512i w[R];
        for (int r = 0; r < R; ++r)
          w[r] = _mm512_load_si512(wq[r] + b * l.quant_bytes_per_block + 64 * (L0 + L));
        for (int t = 0; t < T; ++t) {
          const __m512i x = bcast4(a.q(t0 + t) + 32 * b + 4 * (L0 + L));
          const int32_t c = a.corr4(t0 + t)[8 * b + L0 + L];
          for (int r = 0; r < R; ++r) {
            const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_set1_epi32(c), w[r], x));
            acc[L][r][t] = _mm512_fmadd_ps(d[r][t], s, acc[L][r][t]);
          }
        }
      }
    }
    for (int L = 0; L < P; ++L)
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) lanes[L0 + L][r][t] = acc[L][r][t];
  }
  for (int r = 0; r < R; ++r) {
    const int64_t row0 = (group + r) * kPackRows;
    const int64_t valid = std::min<int64_t>(kPackRows, n_rows - row0);
    const __mmask16 m = valid >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << valid) - 1);
    for (int t = 0; t < T; ++t) {
      const auto& v = lanes;
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(v[0][r][t], v[4][r][t]),
                                                     _mm512_add_ps(v[2][r][t], v[6][r][t])),
                                       _mm512_add_ps(_mm512_add_ps(v[1][r][t], v[5][r][t]),
                                                     _mm512_add_ps(v[3][r][t], v[7][r][t])));
      _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + row0, m, sum);
    }
  }
}

// Q4_0: R row groups starting at `group`, T tokens starting at t0.
template <int R, int T>
void tile_q4(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
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
    tile_q4<R, T>(l, packed, group, a, t0, y, y_stride, n_rows);
  }
};
// Q8_0 GEMM tiles: 1 row group x 4 tokens, the lanes in two passes of 4 (16
// accumulators, 4 scales). One row group, because each token's correction
// then loads straight into the vpdpbusd accumulator: shared by two row groups
// it costs a register copy per vpdpbusd, on the same two ports (2 x 2 tiles:
// 1.14x the CPU time).
template <int R, int T>
struct Q8Tile {
  static void run(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                  int64_t t0, float* y, int64_t y_stride, int64_t n_rows) {
    tile_q8<R, T, 4>(l, packed, group, a, t0, y, y_stride, n_rows);
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

void gemm_q4(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
             int64_t n_rows, const ActView& a, int64_t n_tokens, float* y, int64_t y_stride) {
  if (n_tokens == 1) {
    // Matrix x vector: 4 row groups per tile so 4 independent dpbusd chains
    // hide its latency while the weights stream from memory.
    int64_t g = g_begin;
    for (; g + 4 <= g_end; g += 4) tile_q4<4, 1>(l, packed, g, a, 0, y, y_stride, n_rows);
    for (; g < g_end; ++g) tile_q4<1, 1>(l, packed, g, a, 0, y, y_stride, n_rows);
    return;
  }
  // 2 x 6 tiles: 12 int32 sums + 12 accumulators + 4 weights of 32 zmm.
  gemm_tiles<2, 6, Q4Tile>(l, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
}

void gemm_q8(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
             int64_t n_rows, const ActView& a, int64_t n_tokens, float* y, int64_t y_stride) {
  if (n_tokens == 1) {
    // Matrix x vector: 4 row groups (4 streams from memory per thread; one
    // group's single stream read the output matrix at 0.55x the speed), all 8
    // lanes in one pass: 32 accumulators spill, but the weights stream from
    // memory once (lanes in two passes of 4, each reading every other half of
    // the blocks, generated 0.67x the tokens per second end to end).
    int64_t g = g_begin;
    for (; g + 4 <= g_end; g += 4) tile_q8<4, 1, 8>(l, packed, g, a, 0, y, y_stride, n_rows);
    for (; g < g_end; ++g) tile_q8<1, 1, 8>(l, packed, g, a, 0, y, y_stride, n_rows);
    return;
  }
  gemm_tiles<1, 4, Q8Tile>(l, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
}

}  // namespace

size_t packed_activation_stride(int64_t cols) {
  const size_t bytes = cols + cols / 32 * 8 + cols;
  return (bytes + 63) / 64 * 64;
}

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
    if (offset == 128) {  // Q8_0's tiles take the correction per 4 weights
      auto* corr4 = reinterpret_cast<int32_t*>(dst + cols + cols / 32 * 8) + 8 * b;
      for (int L = 0; L < 8; ++L) {
        const int8_t* v = q + 32 * b + 4 * L;
        corr4[L] = -offset * (v[0] + v[1] + v[2] + v[3]);
      }
    }
    d[b] = quant::fp16_to_fp32(quant::fp32_to_fp16(amax / 127.f));
  }
}

void gemm_packed_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                        int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                        float* y, int64_t y_stride) {
  const ActView a{acts, packed_activation_stride(layout.blocks * 32), layout.blocks * 32};
  if (layout.offset == 8)
    gemm_q4(layout, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
  else
    gemm_q8(layout, packed, g_begin, g_end, n_rows, a, n_tokens, y, y_stride);
}

}  // namespace hearth::kernels
