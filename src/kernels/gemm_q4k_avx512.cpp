// AVX-512 VNNI tiles over row-interleaved Q4_K and Q5_K weights (repack.h): R groups of
// 16 rows x T tokens, one 32-weight sub-block at a time: 8 vpdpbusd of 4
// unsigned nibbles of 16 rows by 4 broadcast activations, then the sub-block's
// scale d * sc (per row) times the token's d, and its min dmin * mn times the
// token's d * (sum of the sub-block's activations).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/gemm_packed.h"
#include "kernels/q45k_scales_avx2.h"
#include "quant/blocks.h"

namespace hearth::kernels {
namespace {

namespace q = hearth::quant;

using ActView = Q8KActs;  // gemm_packed.h

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline __m512 u8x16_to_ps(const uint8_t* p) {
  return _mm512_cvtepi32_ps(
      _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))));
}

// Where each of R row groups' streams start (repack.h): the block records
// (scales, mins, d, dmin), each just before its block's quants.
template <int R>
struct Streams {
  const uint8_t *q[R], *rec[R];
  size_t stride;  // from a block to the next, in both streams
  Streams(const PackedLayout& l, const uint8_t* packed, int64_t group) : stride(l.block_stride) {
    for (int r = 0; r < R; ++r) {
      rec[r] = packed + (group + r) * l.group_bytes;
      q[r] = rec[r] + kQ45kRecordBytes;
    }
  }
  // Block b's scales and mins of group r as bytes ([8 sub-blocks][16 rows]).
  void unpack(int r, int64_t b, uint8_t* sc, uint8_t* mn) const {
    unpack_q45k_scales(rec[r] + b * stride, sc, mn);
  }
  // Block b's d (k = 0) or dmin (k = 1) of group r's 16 rows.
  __m512 d(int r, int64_t b, int k) const {
    return _mm512_cvtph_ps(_mm256_load_si256(
        reinterpret_cast<const __m256i*>(rec[r] + b * stride + kQ45kRecordD + k * 2 * kPackRows)));
  }
};

// The scales and mins of group g's blocks as bytes, [block][sc 128 | mn 128]:
// unpacked once per group and block of tokens for the tiles below, which would
// otherwise unpack them once per 4 tokens (as much vector work as a tenth of
// Q5_K's tile).
constexpr size_t kUnpackedBlockBytes = 16 * kPackRows;
void unpack_group_scales(const PackedLayout& l, const uint8_t* packed, int64_t g, uint8_t* out) {
  const Streams<1> w(l, packed, g);
  for (int64_t b = 0; b < l.blocks; ++b)
    w.unpack(0, b, out + b * kUnpackedBlockBytes, out + b * kUnpackedBlockBytes + 8 * kPackRows);
}

// kQ5: Q5_K, the same layout plus a plane of fifth bits per sub-block
// (repack.h), or-ed in at bit 4 of each weight byte. `scales[r]`: group r's
// unpack_group_scales.
template <int R, int T, bool kQ5>
void tile(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a, int64_t t0,
          float* y, int64_t y_stride, int64_t n_rows, const uint8_t* const* scales) {
  const int64_t nb = l.blocks;
  const Streams<R> w(l, packed, group);
  const auto& wq = w.q;
  const int8_t* aq[T];
  const float *ad[T], *as[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), as[t] = a.dsum(t0 + t);
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);

  for (int64_t b = 0; b < nb; ++b) {
    __m512 d[R], dmin[R];
    const uint8_t *sc[R], *mn[R];
    for (int r = 0; r < R; ++r) {
      sc[r] = scales[r] + b * kUnpackedBlockBytes, mn[r] = sc[r] + 8 * kPackRows;
      d[r] = w.d(r, b, 0), dmin[r] = w.d(r, b, 1);
    }
    for (int g = 0; g < 8; ++g) {
      const int c = g / 2;
      const bool high = g & 1;
      __m512i s[R][T], qh[R];
      for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) s[r][t] = _mm512_setzero_si512();
        if constexpr (kQ5) qh[r] = _mm512_load_si512(wq[r] + b * l.block_stride + 2048 + 64 * g);
      }
#pragma GCC unroll 8
      for (int L = 0; L < 8; ++L) {
        __m512i v[R];
        for (int r = 0; r < R; ++r) {
          const __m512i w = _mm512_load_si512(wq[r] + b * l.block_stride + (c * 8 + L) * 64);
          v[r] = _mm512_and_si512(high ? _mm512_srli_epi16(w, 4) : w, low4);
          if constexpr (kQ5) {
            // Bit L of each byte to bit 4 (16-bit shifts: the bits crossing a
            // byte boundary land outside bit 4), or-ed in: v | (h & 0x10).
            const __m512i h = L < 4   ? _mm512_slli_epi16(qh[r], 4 - L)
                              : L > 4 ? _mm512_srli_epi16(qh[r], L - 4)
                                      : qh[r];
            v[r] = _mm512_ternarylogic_epi32(v[r], h, bit4, 0xF8);
          }
        }
        for (int t = 0; t < T; ++t) {
          const __m512i x = bcast4(aq[t] + 256 * b + 32 * g + 4 * L);
          for (int r = 0; r < R; ++r) s[r][t] = _mm512_dpbusd_epi32(s[r][t], v[r], x);
        }
      }
      for (int r = 0; r < R; ++r) {
        const __m512 scale = _mm512_mul_ps(u8x16_to_ps(sc[r] + g * 16), d[r]);
        const __m512 min = _mm512_mul_ps(u8x16_to_ps(mn[r] + g * 16), dmin[r]);
        for (int t = 0; t < T; ++t) {
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r][t]),
                                      _mm512_mul_ps(scale, _mm512_set1_ps(ad[t][b])), acc[r][t]);
          acc[r][t] = _mm512_fnmadd_ps(min, _mm512_set1_ps(as[t][8 * b + g]), acc[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t row0 = (group + r) * kPackRows;
    const int64_t valid = std::min<int64_t>(kPackRows, n_rows - row0);
    const __mmask16 m = valid >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << valid) - 1);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + row0, m, acc[r][t]);
  }
}

// Matrix x vector: R row groups x one token, a pair of sub-blocks (2c, 2c + 1)
// at a time, so that each quant byte is loaded once for both of its nibbles
// (the tiles above load it once per sub-block: their registers go to tokens).
template <int R, bool kQ5>
void vec(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a, float* y,
         int64_t n_rows) {
  const int64_t nb = l.blocks;
  const Streams<R> w(l, packed, group);
  const auto& wq = w.q;
  const int8_t* aq = a.q(0);
  const float *ad = a.d(0), *as = a.dsum(0);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);

  for (int64_t b = 0; b < nb; ++b) {
    alignas(32) uint8_t sc[R][8 * kPackRows], mn[R][8 * kPackRows];
    for (int r = 0; r < R; ++r) {
      w.unpack(r, b, sc[r], mn[r]);
    }
    const __m512 xd = _mm512_set1_ps(ad[b]);
    for (int c = 0; c < 4; ++c) {
      __m512i s0[R], s1[R], qh0[R], qh1[R];
      for (int r = 0; r < R; ++r) {
        // a quarter of a block (record and quants) per pair
        prefetch_lines(w.rec[r] + b * l.block_stride + c * (l.block_stride / 4) + kDecodeAhead,
                       kQ5 ? 11 : 9);
        s0[r] = s1[r] = _mm512_setzero_si512();
        if constexpr (kQ5) {
          qh0[r] = _mm512_load_si512(wq[r] + b * l.block_stride + 2048 + 128 * c);
          qh1[r] = _mm512_load_si512(wq[r] + b * l.block_stride + 2048 + 128 * c + 64);
        }
      }
#pragma GCC unroll 8
      for (int L = 0; L < 8; ++L) {
        const __m512i x0 = bcast4(aq + 256 * b + 64 * c + 4 * L);
        const __m512i x1 = bcast4(aq + 256 * b + 64 * c + 32 + 4 * L);
        for (int r = 0; r < R; ++r) {
          const __m512i w = _mm512_load_si512(wq[r] + b * l.block_stride + (c * 8 + L) * 64);
          __m512i v0 = _mm512_and_si512(w, low4);
          __m512i v1 = _mm512_and_si512(_mm512_srli_epi16(w, 4), low4);
          if constexpr (kQ5) {  // as in tile()
            const auto fifth = [L](__m512i qh) {
              return L < 4   ? _mm512_slli_epi16(qh, 4 - L)
                     : L > 4 ? _mm512_srli_epi16(qh, L - 4)
                             : qh;
            };
            v0 = _mm512_ternarylogic_epi32(v0, fifth(qh0[r]), bit4, 0xF8);
            v1 = _mm512_ternarylogic_epi32(v1, fifth(qh1[r]), bit4, 0xF8);
          }
          s0[r] = _mm512_dpbusd_epi32(s0[r], v0, x0);
          s1[r] = _mm512_dpbusd_epi32(s1[r], v1, x1);
        }
      }
      for (int r = 0; r < R; ++r) {
        const __m512 d = w.d(r, b, 0), dmin = w.d(r, b, 1);
        for (int h = 0; h < 2; ++h) {
          const int g = 2 * c + h;
          // (sc d) d_x, rounded as the tiles do: a token's output does not
          // depend on its batch
          const __m512 scale = _mm512_mul_ps(u8x16_to_ps(sc[r] + g * 16), d);
          acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(h ? s1[r] : s0[r]), _mm512_mul_ps(scale, xd),
                                   acc[r]);
          acc[r] = _mm512_fnmadd_ps(_mm512_mul_ps(u8x16_to_ps(mn[r] + g * 16), dmin),
                                    _mm512_set1_ps(as[8 * b + g]), acc[r]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t row0 = (group + r) * kPackRows;
    const int64_t valid = std::min<int64_t>(kPackRows, n_rows - row0);
    const __mmask16 m = valid >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << valid) - 1);
    _mm512_mask_storeu_ps(y + row0, m, acc[r]);
  }
}

template <int R, bool kQ5>
void tile_tokens(const PackedLayout& l, const uint8_t* packed, int64_t group, const ActView& a,
                 int64_t t0, int nt, float* y, int64_t y_stride, int64_t n_rows,
                 const uint8_t* const* scales) {
  switch (nt) {
    case 1:
      return tile<R, 1, kQ5>(l, packed, group, a, t0, y, y_stride, n_rows, scales);
    case 2:
      return tile<R, 2, kQ5>(l, packed, group, a, t0, y, y_stride, n_rows, scales);
    case 3:
      return tile<R, 3, kQ5>(l, packed, group, a, t0, y, y_stride, n_rows, scales);
    case 4:
      return tile<R, 4, kQ5>(l, packed, group, a, t0, y, y_stride, n_rows, scales);
  }
}

constexpr int64_t kTokenBlock = 48;
constexpr int kTileTokens = 4;  // 2 x 4 tiles: 8 int32 sums + 8 accumulators + scales

}  // namespace

namespace {

template <bool kQ5>
void gemm_k(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
            int64_t n_rows, const uint8_t* acts, int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t cols = l.blocks * 256;
  const ActView a{acts, packed_q8k_activation_stride(cols), cols};
  if (n_tokens == 1) {
    int64_t g = g_begin;
    for (; g + 4 <= g_end; g += 4) vec<4, kQ5>(l, packed, g, a, y, n_rows);
    for (; g < g_end; ++g) vec<1, kQ5>(l, packed, g, a, y, n_rows);
    return;
  }
  // 64-byte elements: unpack_q45k_scales stores, and the tiles load, aligned.
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  thread_local std::vector<Line> unpacked;
  const size_t per_group = static_cast<size_t>(l.blocks) * kUnpackedBlockBytes;
  unpacked.resize(2 * per_group / sizeof(Line));
  uint8_t* const buf[2] = {reinterpret_cast<uint8_t*>(unpacked.data()),
                           reinterpret_cast<uint8_t*>(unpacked.data()) + per_group};
  const uint8_t* const scales[2] = {buf[0], buf[1]};
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    int64_t g = g_begin;
    for (; g + 2 <= g_end; g += 2) {
      for (int r = 0; r < 2; ++r) unpack_group_scales(l, packed, g + r, buf[r]);
      for (int64_t t = t0; t < t1; t += kTileTokens)
        tile_tokens<2, kQ5>(l, packed, g, a, t,
                            static_cast<int>(std::min<int64_t>(kTileTokens, t1 - t)), y, y_stride,
                            n_rows, scales);
    }
    for (; g < g_end; ++g) {
      unpack_group_scales(l, packed, g, buf[0]);
      for (int64_t t = t0; t < t1; t += kTileTokens)
        tile_tokens<1, kQ5>(l, packed, g, a, t,
                            static_cast<int>(std::min<int64_t>(kTileTokens, t1 - t)), y, y_stride,
                            n_rows, scales);
    }
  }
}

}  // namespace

void gemm_packed_q4k_avx512(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride) {
  gemm_k<false>(l, packed, g_begin, g_end, n_rows, acts, n_tokens, y, y_stride);
}

void gemm_packed_q5k_avx512(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride) {
  gemm_k<true>(l, packed, g_begin, g_end, n_rows, acts, n_tokens, y, y_stride);
}

}  // namespace hearth::kernels
