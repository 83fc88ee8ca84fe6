// AVX-512 VNNI tiles over row-interleaved Q6_K weights (repack.h): one group
// of 16 rows x T tokens (4 groups x 1 token for a vector). Per 16-weight
// sub-block the 6-bit weights of the 16 rows are assembled from their nibble
// and 2-bit planes (4 zmm operands of 4 weights per row, each used by all T
// tokens), multiplied with 4 vpdpbusd against broadcast activations, and the
// sub-block's int8 scale applied in f32; the super-block's d_w d_x once at
// its end.
//
// One row group (not two, as Q4_0/Q4_K): each token's -32 * sum(q_x) of the
// sub-block then loads straight into the vpdpbusd accumulator (a second row
// group would need a register copy of it per sub-block and token), and the
// weight assembly, the costly part, is shared by up to 8 tokens instead.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/gemm_packed.h"

namespace hearth::kernels {
namespace {

using ActView = Q8KActs;  // gemm_packed.h

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// A | (B & C), vpternlogd's truth table for (a, b, c).
constexpr int kOrAnd = 0xF8;

// R row groups (R > 1 only for one token: several streams from memory) x T
// tokens.
template <int R, int T>
void tile(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a, int64_t t0,
          float* y, int64_t y_stride, int64_t n_rows) {
  const int64_t nb = l.blocks;
  const uint8_t* wq[R];
  const int8_t* wsc[R];
  const uint16_t* wd[R];
  for (int r = 0; r < R; ++r) {
    wq[r] = packed + (group + r) * l.group_bytes;
    wsc[r] = reinterpret_cast<const int8_t*>(wq[r] + nb * l.quant_bytes_per_block);
    wd[r] = reinterpret_cast<const uint16_t*>(wsc[r] + nb * 16 * kPackRows);
  }
  const int8_t* aq[T];
  const float* ad[T];
  const int32_t* ac[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), ac[t] = a.corr16(t0 + t);
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);

  for (int64_t b = 0; b < nb; ++b) {
    __m512 sb[R][T];  // sum over sub-blocks of sc * (integer dot), per token
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) sb[r][t] = _mm512_setzero_ps();
    if constexpr (T == 1)
      for (int r = 0; r < R; ++r) {  // the scales of two super-blocks on
        prefetch_lines(wsc[r] + (b + 2) * 16 * kPackRows, 4);
        prefetch_lines(wd[r] + (b + 2) * kPackRows, 1);
      }
    for (int j = 0; j < 16; ++j)
      for (int r = 0; r < R; ++r) {
        const uint8_t* q = wq[r] + b * l.quant_bytes_per_block;
        if constexpr (T == 1)  // a sixteenth of the super-block's quants per sub-block
          prefetch_lines(q + 192 * j + kDecodeAhead, 3);
        const __m512i ql0 = _mm512_load_si512(q + 128 * j);
        const __m512i ql1 = _mm512_load_si512(q + 128 * j + 64);
        const __m512i qh = _mm512_load_si512(q + 2048 + 64 * j);
        // Operand k: weights 16j + 4k .. 16j + 4k + 3 of the 16 rows, q in 0..63.
        __m512i w[4];
        w[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql0, low4), _mm512_slli_epi16(qh, 4),
                                         bits45, kOrAnd);
        w[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql1, low4), _mm512_slli_epi16(qh, 2),
                                         bits45, kOrAnd);
        w[2] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql0, 4), low4), qh,
                                         bits45, kOrAnd);
        w[3] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql1, 4), low4),
                                         _mm512_srli_epi16(qh, 2), bits45, kOrAnd);
        const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
            _mm_load_si128(reinterpret_cast<const __m128i*>(wsc[r] + (b * 16 + j) * kPackRows))));
        for (int t = 0; t < T; ++t) {
          const int8_t* x = aq[t] + 256 * b + 16 * j;
          // -32 * sum(q_x): the weights are stored as q + 32.
          __m512i s = _mm512_set1_epi32(ac[t][16 * b + j]);
          for (int k = 0; k < 4; ++k) s = _mm512_dpbusd_epi32(s, w[k], bcast4(x + 4 * k));
          sb[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, sb[r][t]);
        }
      }
    for (int r = 0; r < R; ++r) {
      const __m512 dw = _mm512_cvtph_ps(
          _mm256_load_si256(reinterpret_cast<const __m256i*>(wd[r] + b * kPackRows)));
      for (int t = 0; t < T; ++t)
        acc[r][t] =
            _mm512_fmadd_ps(sb[r][t], _mm512_mul_ps(dw, _mm512_set1_ps(ad[t][b])), acc[r][t]);
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
template <int kMaxT>
void tile_tokens(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                 int64_t t0, int nt, float* y, int64_t y_stride, int64_t n_rows) {
  if constexpr (kMaxT > 0) {
    if (nt == kMaxT) return tile<1, kMaxT>(l, packed, group, a, t0, y, y_stride, n_rows);
    tile_tokens<kMaxT - 1>(l, packed, group, a, t0, nt, y, y_stride, n_rows);
  }
}

constexpr int64_t kTokenBlock = 48;
// 8 tokens: 16 accumulators + 4 weight operands + scale, sums and constants
// in the 32 zmm registers.
constexpr int kTileTokens = 8;

}  // namespace

void gemm_packed_q6k_avx512(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride) {
  const int64_t cols = l.blocks * 256;
  const ActView a{acts, packed_q8k_activation_stride(cols), cols};
  if (n_tokens == 1) {
    // Matrix x vector: 4 row groups, 4 streams from memory per thread (one
    // group's single stream read the output matrix at 0.4x Q4_K's speed).
    int64_t g = g_begin;
    for (; g + 4 <= g_end; g += 4) tile<4, 1>(l, packed, g, a, 0, y, y_stride, n_rows);
    for (; g < g_end; ++g) tile<1, 1>(l, packed, g, a, 0, y, y_stride, n_rows);
    return;
  }
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    for (int64_t g = g_begin; g < g_end; ++g)
      for (int64_t t = t0; t < t1; t += kTileTokens)
        tile_tokens<kTileTokens>(l, packed, g, a, t,
                                 static_cast<int>(std::min<int64_t>(kTileTokens, t1 - t)), y,
                                 y_stride, n_rows);
  }
}

}  // namespace hearth::kernels
