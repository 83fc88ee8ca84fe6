// AVX2 tiles over row-interleaved Q4_0/Q8_0 weights: the AVX-512 layout of
// repack.h read as two halves of 8 rows (32 bytes of each 64-byte line: 4
// consecutive weights of 8 rows, one per int32 lane). Without vpdpbusd a
// product is vpmaddubsw (u8 x s8 -> pairs summed into i16) and vpmaddwd (i16
// pairs -> i32), so the tiles keep sums in i16 as long as they cannot
// overflow and widen once per block. The block's int32 sums are the same
// integers the AVX-512 tiles compute, and are scaled in the same order, so
// the two levels give the same floats.
// Compiled a second time with AVX-VNNI (gemm_packed_avxvnni.cpp, kVnni):
// there each 4 products are one vpdpbusd into int32, and Q8_0's copy holds
// u = q + 128 as the AVX-512 one does, so its product is one instruction
// where AVX2's takes four.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/act_quant.h"
#include "kernels/gemm_packed.h"
#include "kernels/tiles_avx2.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::kernels {
namespace {

namespace q = hearth::quant;

using ActView = Q8Acts;  // gemm_packed.h

// R halves starting at half h0 (half h: rows 8h..8h+7, the (h % 2)-th 32 bytes
// of group h / 2's lines) x T tokens from t0.
// Q4_0 (kQ4): unsigned nibbles u = q + 8 times the activations; a block's 8
// vpmaddubsw results add up in i16 (each lane: 16 products of at most 15 *
// 127, 30480 < 32767), then one vpmaddwd and the -8 * sum(x) correction.
// Q8_0: unsigned u = q + 128 would overflow vpmaddubsw's i16 pairs (255 * 127
// * 2), so the AVX2 copy stores q itself (repack.h) and the tile multiplies
// |q| by x carrying q's sign (the pair then fits: 128 * 127 * 2 = 32512),
// widened at every step. With AVX-VNNI both types sum straight into int32
// (vpdpbusd of u and x), starting from the block's corr.
// kAbsX (Q8_0 at AVX2 in decode, T = 1, when no stored q_w is -128:
// PackedLayout::q8_holds_min): |x| times q_w carrying x's sign, one vpabsb a
// step for the token where the other form spends one per row (8 a step in
// decode's 8 x 1 tile: 33 vector instructions a step instead of 40). On an
// Intel Xeon (model 207), alternated: the FFN matrix from cache, one thread,
// 0.53 against 0.56 ms (medians of 10); TinyLlama Q8_0's tg128 with two
// threads, 21.1 against 19.7 tokens/s (medians of 6, every pair ahead).
// Prompts keep the other form: it was tried with |x| stored per token (the
// 2 x 2 tile's 2 vpabsb a step saved), 6% faster on one thread and 9% slower
// end to end on two.
template <int R, int T, bool kQ4, bool kAbsX = false>
void tile_q(const PackedLayout& l, const uint8_t* packed, int64_t h0, const ActView& a, int64_t t0,
            float* y, int64_t y_stride, int64_t n_rows) {
  // The AVX2 prompt tile (2 x 4) keeps its float sums in memory between
  // blocks, where they stay in L1: its 8 integer sums, 2 weights, their 2
  // |q| and the activation fill 13 of the 16 ymm, and the float sums, touched
  // once a block, are the cheapest to leave out.
  constexpr bool kAccInMemory = !kVnni && R * T > 4;
  __m256 acc[R][T];
  alignas(32) float acc_mem[kAccInMemory ? R * T * 8 : 1];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      if constexpr (kAccInMemory) _mm256_store_ps(acc_mem + (r * T + t) * 8, acc[r][t]);
    }
  const uint8_t* wq[R];
  const uint16_t* wd[R];
  for (int r = 0; r < R; ++r) {
    const int64_t h = h0 + r;
    const uint8_t* group = packed + (h / 2) * l.group_bytes;
    wq[r] = group + (h % 2) * 32;
    wd[r] = reinterpret_cast<const uint16_t*>(group + l.blocks * l.quant_bytes_per_block) +
            (h % 2) * kHalfRows;
  }
  const int8_t* aq[T];
  const float* ad[T];
  const int32_t* ac[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), ac[t] = a.corr(t0 + t);
  const __m256i ones = _mm256_set1_epi16(1);

  for (int64_t b = 0; b < l.blocks; ++b) {
    // With AVX-VNNI the int32 sums start from the block's correction.
    __m256i s[R][T];
    for (int t = 0; t < T; ++t) {
      const __m256i s0 = kVnni ? _mm256_set1_epi32(ac[t][b]) : _mm256_setzero_si256();
      for (int r = 0; r < R; ++r) s[r][t] = s0;
    }
    const size_t qoff = b * l.quant_bytes_per_block;
    if constexpr (T == 1)  // decode: each group's lines once (from its first half), ahead
      for (int r = 0; r < R; ++r)
        if ((h0 + r) % 2 == 0) {
          prefetch_lines(wq[r] + qoff + kDecodeAhead, kQ4 ? 4 : 8);
          prefetch_lines(wd[r] + (b + 16) * kPackRows, 1);
        }
    if constexpr (kQ4) {
      const __m256i low4 = _mm256_set1_epi8(0x0F);
      // Not unrolled (nor Q8_0's below): unrolled, GCC computes all the
      // products of a block before summing them and spills them (25% slower).
#pragma GCC unroll 1
      for (int L = 0; L < 4; ++L) {
        __m256i lo[R], hi[R];
        for (int r = 0; r < R; ++r) {
          const __m256i w = load32(wq[r] + qoff + 64 * L);
          lo[r] = _mm256_and_si256(w, low4);
          hi[r] = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
        }
        for (int t = 0; t < T; ++t) {
          const __m256i x0 = bcast4(aq[t] + 32 * b + 4 * L);
          const __m256i x1 = bcast4(aq[t] + 32 * b + 16 + 4 * L);
          for (int r = 0; r < R; ++r) {
            if constexpr (kVnni) {
              s[r][t] = dot4_acc_in_place(dot4_acc_in_place(s[r][t], lo[r], x0), hi[r], x1);
            } else {
              const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo[r], x0),
                                                 _mm256_maddubs_epi16(hi[r], x1));
              s[r][t] = add_epi16_in_place(s[r][t], p);
            }
          }
        }
      }
      if constexpr (!kVnni)
        for (int t = 0; t < T; ++t) {
          const __m256i c = _mm256_set1_epi32(ac[t][b]);
          for (int r = 0; r < R; ++r)
            s[r][t] = _mm256_add_epi32(_mm256_madd_epi16(s[r][t], ones), c);
        }
    } else if constexpr (kVnni || kAbsX) {
      // The stored weights as operands: u = q + 128 into vpdpbusd, or (kAbsX)
      // q_w carrying x's sign against |x|.
#pragma GCC unroll 1
      for (int L = 0; L < 8; ++L) {
        __m256i w[R];
        for (int r = 0; r < R; ++r) w[r] = load32(wq[r] + qoff + 64 * L);
        for (int t = 0; t < T; ++t) {
          const __m256i x = bcast4(aq[t] + 32 * b + 4 * L);
          [[maybe_unused]] const __m256i u = _mm256_abs_epi8(x);  // Q8_0 activations: |x| <= 127
          for (int r = 0; r < R; ++r) {
            if constexpr (kVnni) {
              s[r][t] = dot4_acc_in_place(s[r][t], w[r], x);
            } else {
              const __m256i p =
                  _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(w[r], x)), ones);
              s[r][t] = add_epi32_in_place(s[r][t], p);
            }
          }
        }
      }
    } else {
#pragma GCC unroll 1
      for (int L = 0; L < 8; ++L) {
        __m256i w[R], u[R];
        for (int r = 0; r < R; ++r) {
          w[r] = load32(wq[r] + qoff + 64 * L);
          u[r] = _mm256_abs_epi8(w[r]);  // |-128| reads as 128 unsigned
        }
        for (int t = 0; t < T; ++t) {
          const __m256i x = bcast4(aq[t] + 32 * b + 4 * L);
          for (int r = 0; r < R; ++r) {
            const __m256i p =
                _mm256_madd_epi16(_mm256_maddubs_epi16(u[r], _mm256_sign_epi8(x, w[r])), ones);
            s[r][t] = add_epi32_in_place(s[r][t], p);
          }
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256 dw =
          _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(wd[r] + b * kPackRows)));
      for (int t = 0; t < T; ++t) {
        const __m256 p = _mm256_cvtepi32_ps(s[r][t]);
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(ad[t][b]));
        if constexpr (kAccInMemory) {
          float* m = acc_mem + (r * T + t) * 8;
          _mm256_store_ps(m, _mm256_fmadd_ps(p, scale, _mm256_load_ps(m)));
        } else {
          acc[r][t] = _mm256_fmadd_ps(p, scale, acc[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      store_half(y + (t0 + t) * y_stride, h0 + r, n_rows,
                 kAccInMemory ? _mm256_load_ps(acc_mem + (r * T + t) * 8) : acc[r][t]);
}

// One call of the tile for nt (1..kMaxT) tokens.
template <int R, int kMaxT, bool kQ4>
void tile_tokens(const PackedLayout& l, const uint8_t* packed, int64_t h, const ActView& a,
                 int64_t t0, int nt, float* y, int64_t y_stride, int64_t n_rows) {
  if constexpr (kMaxT > 0) {
    if (nt == kMaxT) return tile_q<R, kMaxT, kQ4>(l, packed, h, a, t0, y, y_stride, n_rows);
    tile_tokens<R, kMaxT - 1, kQ4>(l, packed, h, a, t0, nt, y, y_stride, n_rows);
  }
}

constexpr int64_t kTokenBlock = 48;

// Halves [h_begin, h_end) (those holding rows below n_rows) x all tokens;
// kAbsX: decode's form for Q8_0 (tile_q).
template <bool kQ4, bool kAbsX>
void gemm_q(const PackedLayout& l, const uint8_t* packed, int64_t h_begin, int64_t h_end,
            int64_t n_rows, const ActView& a, int64_t n_tokens, float* y, int64_t y_stride) {
  if (n_tokens == 1) {
    // Matrix x vector: 2 halves (one 64-byte line per step), 2 independent
    // chains of sums.
    int64_t h = h_begin;
    for (; h + 8 <= h_end; h += 8)
      tile_q<8, 1, kQ4, kAbsX>(l, packed, h, a, 0, y, y_stride, n_rows);
    for (; h + 4 <= h_end; h += 4)
      tile_q<4, 1, kQ4, kAbsX>(l, packed, h, a, 0, y, y_stride, n_rows);
    for (; h + 2 <= h_end; h += 2)
      tile_q<2, 1, kQ4, kAbsX>(l, packed, h, a, 0, y, y_stride, n_rows);
    for (; h < h_end; ++h) tile_q<1, 1, kQ4, kAbsX>(l, packed, h, a, 0, y, y_stride, n_rows);
    return;
  }
  // AVX2, 2 x 4 tiles: 8 sums + 2 x 2 weight operands + 1 activation of the
  // 16 ymm, the float sums in memory (tile_q). Without vpdpbusd, the ports
  // that multiply also take vpsignb and vpabsb, and a wider tile spreads each
  // row's vpabsb (Q8_0) or nibble unpacking (Q4_0) over 4 tokens rather than
  // 2. One thread on an Intel Xeon (model 207), the FFN matrix x 512 tokens,
  // alternated: Q8_0 129-157 ms against 150-177 with 2 x 2 (float sums in
  // registers), Q4_0 82-118 against 85-125; a whole pp512 with two threads
  // 12-13% faster for both (medians of 6 pairs). With the float sums in
  // registers, 1 x 4, 2 x 3 and 3 x 2 had measured slower than 2 x 2.
  // AVX-VNNI, 2 x 3: no i16 step, so 6 int32 sums + 6 accumulators + 2
  // weights + 1 activation (Q8_0's FFN matrix x 512 tokens, one thread on an
  // Intel Xeon: 80-103 ms against 131-154 with 2 x 2).
  constexpr int kR = 2, kT = kVnni ? 3 : 4;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    int64_t h = h_begin;
    for (; h + kR <= h_end; h += kR)
      for (int64_t t = t0; t < t1; t += kT)
        tile_tokens<kR, kT, kQ4>(l, packed, h, a, t,
                                 static_cast<int>(std::min<int64_t>(kT, t1 - t)), y, y_stride,
                                 n_rows);
    for (; h < h_end; ++h)
      for (int64_t t = t0; t < t1; t += kT)
        tile_tokens<1, kT, kQ4>(l, packed, h, a, t, static_cast<int>(std::min<int64_t>(kT, t1 - t)),
                                y, y_stride, n_rows);
  }
}

}  // namespace

#if !defined(__AVXVNNI__)  // one copy serves both builds of this file
void prepare_packed_activations_avx2(const float* x, int64_t cols, int offset, uint8_t* dst) {
  auto* qs = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + cols);
  auto* corr = reinterpret_cast<int32_t*>(dst + cols + cols / 32 * 4);
  for (int64_t b = 0; b < cols / 32; ++b) {
    q::BlockQ8_0 blk;
    quantize_activations(gguf::TensorType::Q8_0, x + 32 * b, &blk, 32, SimdLevel::kAvx2);
    std::memcpy(qs + 32 * b, blk.qs, 32);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += blk.qs[j];
    corr[b] = -offset * sum;
    d[b] = q::fp16_to_fp32(blk.d);
  }
}
#endif

void HEARTH_YMM(gemm_packed)(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                             int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                             float* y, int64_t y_stride) {
  const ActView a{acts, packed_activation_stride(layout.blocks * 32), layout.blocks * 32};
  // The last group's second half may lie wholly past the matrix.
  const int64_t h_end = std::min(2 * g_end, (n_rows + kHalfRows - 1) / kHalfRows);
  // Q4_0 (offset 8) or Q8_0 (stored signed, offset 0, for AVX2; offset 128 for
  // AVX-VNNI).
  if (layout.offset == 8)
    gemm_q<true, false>(layout, packed, 2 * g_begin, h_end, n_rows, a, n_tokens, y, y_stride);
  else if (!kVnni && !layout.q8_holds_min)
    gemm_q<false, !kVnni>(layout, packed, 2 * g_begin, h_end, n_rows, a, n_tokens, y, y_stride);
  else
    gemm_q<false, false>(layout, packed, 2 * g_begin, h_end, n_rows, a, n_tokens, y, y_stride);
}

}  // namespace hearth::kernels
