// AVX2 tiles over row-interleaved Q4_K, Q5_K and Q6_K weights: the AVX-512
// layout of repack.h read as two halves of 8 rows (32 bytes of each 64-byte
// line). Products go through vpmaddubsw (unsigned weights x signed
// activations -> i16 pairs), summed in i16 while they cannot overflow, then
// vpmaddwd against each row's sub-block scale (duplicated into both i16 of
// the row's lane), so the scale costs no float work per sub-block: a
// super-block's integer sum is scaled once by d_w d_x.
// Compiled a second time with AVX-VNNI (gemm_packed_k_avxvnni.cpp, kVnni):
// there every tile sums each sub-block's products in int32 with vpdpbusd (no
// i16 step, no pairs of scales) and scales the sum with one vpmulld; the
// mins' vpmaddwd and vpaddd are one vpdpwssd (madd_acc). The integers are
// AVX2's.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm_packed.h"
#include "kernels/q45k_scales_avx2.h"
#include "kernels/tiles_avx2.h"

namespace hearth::kernels {
namespace {

using ActView = Q8KActs;  // gemm_packed.h

// The 8 bytes at p (one per row) as i16 pairs (b, b) in the rows' int32 lanes,
// zero- (u8 scales) or sign-extended (int8 scales); Q4_K's and Q5_K's scales
// from their block record, the bits above the 6-bit scale masked off.
inline __m256i scale_pairs_q45k(const uint8_t* p) {
  int64_t bytes;
  std::memcpy(&bytes, p, 8);
  const __m256i v = _mm256_set1_epi64x(bytes);
  // Lane i of the low half takes byte i, of the high half byte 4 + i; 0x80 zeroes.
  const __m256i pick =
      _mm256_setr_epi8(0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128, 4,
                       -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128);
  return _mm256_and_si256(_mm256_shuffle_epi8(v, pick), _mm256_set1_epi16(kQ45kScaleMask));
}
// The same 8 scale bytes as one int32 a row (vpmulld's operand).
inline __m256i scales_q45k_i32(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_cvtepu8_epi32(v), _mm256_set1_epi32(kQ45kScaleMask));
}
// The same 8 int8 scales as one int32 a row (vpmulld's operand).
inline __m256i scales_s8_i32(const uint8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i scale_pairs_s8(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(v, dup));
}

// Where half h's bytes start in group h / 2 (the (h % 2)-th 32 of each 64).
inline const uint8_t* group_of(const PackedLayout& l, const uint8_t* packed, int64_t h) {
  return packed + (h / 2) * l.group_bytes;
}

// Step L of sub-block g of a Q4_K/Q5_K half: the 4 weights of its 8 rows in
// each int32 lane, u in 0..15 (Q4_K) or 0..31 (Q5_K). `w`: the step's line of
// nibbles (the low ones for even g, high for odd); `qh`: sub-block g's line of
// fifth bits, bit L of each byte for step L.
template <bool kQ5>
inline __m256i step_weights(__m256i w, __m256i qh, int g, int L) {
  __m256i v = _mm256_and_si256(g & 1 ? _mm256_srli_epi16(w, 4) : w, _mm256_set1_epi8(0x0F));
  if constexpr (kQ5) {
    // Bit L of each byte to bit 4 (the bits a 16-bit shift carries across
    // bytes fall outside bit 4).
    const __m256i hb = L < 4   ? _mm256_slli_epi16(qh, 4 - L)
                       : L > 4 ? _mm256_srli_epi16(qh, L - 4)
                               : qh;
    v = _mm256_or_si256(v, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
  }
  return v;
}

// Where R halves' Q4_K / Q5_K streams start (repack.h), from half h0 on: the
// halves' quants, and their group's block records, each block's record just
// before its quants (`stride` bytes from one block to the next in both). R = 2: the two halves of
// one group (h0 even).
template <int R>
struct HalfStreams {
  static_assert(R == 1 || R == 2);
  const uint8_t *q[R], *rec;
  int64_t half[R];  // 0 or 1: where the half's 8 rows are among the group's 16
  size_t stride;
  HalfStreams(const PackedLayout& l, const uint8_t* packed, int64_t h0) {
    const uint8_t* g = group_of(l, packed, h0);
    stride = l.block_stride;
    for (int r = 0; r < R; ++r) {
      half[r] = (h0 + r) % 2;
      q[r] = g + kQ45kRecordBytes + half[r] * 32;
    }
    rec = g;
  }
  // Block b's mins of the group's 16 rows, paired ([4 pairs][16 rows][2]
  // bytes: unpack_q45k_min_pairs).
  void min_pairs(int64_t b, uint8_t* mp) const { unpack_q45k_min_pairs(rec + b * stride, mp); }
  // Where block b's scale bytes of sub-block g and half r are (masked as read:
  // scale_pairs_q45k).
  const uint8_t* scales(int r, int64_t b, int g) const {
    return rec + b * stride + g * kPackRows + half[r] * kHalfRows;
  }
  // Block b's d (k = 0) or dmin (k = 1) of half r's 8 rows.
  __m256 d(int r, int64_t b, int k) const {
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(
        rec + b * stride + kQ45kRecordD + k * 2 * kPackRows + half[r] * 2 * kHalfRows)));
  }
};

// A Q4_K / Q5_K super-block's contribution to a half's 8 outputs: its integer
// sum (sub-block scales applied) times d d_x, less dmin d_x times the sum over
// sub-blocks of min mn times the sum of the token's q there, in integers
// (vpmaddwd of each row's pair of mins by the token's pair of sums: at most
// 2 * 63 * 4064 a pair), two int32 sums scaled once each where the float
// form took a conversion and two multiplies per sub-block. `mp`: the half's
// min pairs of the super-block (rows 0-7 of each pair of unpack_q45k_min_pairs,
// 32 bytes apart); `bs`: the token's 8 sums of the super-block.
inline __m256 q45k_block_out(__m256i sum, __m256 d, __m256 dmin, const uint8_t* mp, float xd,
                             const int16_t* bs, __m256 acc) {
  __m256i m = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    int32_t pair;
    std::memcpy(&pair, bs + 2 * k, 4);
    const __m256i mn =
        _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(mp + 32 * k)));
    m = madd_acc(m, mn, _mm256_set1_epi32(pair));
  }
  const __m256 x = _mm256_set1_ps(xd);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(d, x), acc);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmin, x), acc);
}

// Q4_K / Q5_K: R halves from h0 x T tokens from t0. Per 32-weight sub-block,
// 8 vpmaddubsw of 4 nibbles of 8 rows by 4 broadcast activations; Q4_K's i16
// lanes hold 8 steps (16 products of at most 15 * 127: 30480), Q5_K's 4 (31 *
// 127 * 8 = 31496), then vpmaddwd by the rows' scales. The mins are summed
// in integers too (q45k_block_out).
// `unpacked` (or null): the R halves' weights already assembled by
// unpack_half, [super-block][sub-block][step][half], then the group's min
// pairs ([super-block][4 pairs][16 rows][2]), read in place of the unpacking.
template <int R, int T, bool kQ5>
void tile_q45k(const PackedLayout& l, const uint8_t* packed, int64_t h0, const ActView& a,
               int64_t t0, float* y, int64_t y_stride, int64_t n_rows, const Ymm* unpacked) {
  const int64_t nb = l.blocks;
  const HalfStreams<R> w(l, packed, h0);
  const auto& wq = w.q;
  const int8_t* aq[T];
  const float* ad[T];
  const int16_t* as[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), as[t] = a.bsum(t0 + t);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();

  for (int64_t b = 0; b < nb; ++b) {
    alignas(32) uint8_t mins[8 * kPackRows];
    const uint8_t* bmn = mins;
    if (unpacked)
      bmn = reinterpret_cast<const uint8_t*>(unpacked + nb * 64 * R) + b * 8 * kPackRows;
    else
      w.min_pairs(b, mins);
    __m256i sum[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) sum[r][t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const int c = g / 2;
      __m256i sc[R], qh[R];
      for (int r = 0; r < R; ++r) {
        sc[r] = kVnni ? scales_q45k_i32(w.scales(r, b, g)) : scale_pairs_q45k(w.scales(r, b, g));
        qh[r] = kQ5 && !unpacked ? load32(wq[r] + b * w.stride + 2048 + 64 * g)
                                 : _mm256_setzero_si256();
      }
      __m256i s[R][T];
#pragma GCC unroll 8
      for (int L = 0; L < 8; ++L) {
        __m256i v[R];
        for (int r = 0; r < R; ++r) {
          if (unpacked) {
            v[r] = unpacked[((b * 8 + g) * 8 + L) * R + r].v;
          } else {
            const __m256i w = load32(wq[r] + b * l.block_stride + (c * 8 + L) * 64);
            v[r] = step_weights<kQ5>(w, qh[r], g, L);
          }
        }
        for (int t = 0; t < T; ++t) {
          const __m256i x = bcast4(aq[t] + 256 * b + 32 * g + 4 * L);
          for (int r = 0; r < R; ++r) {
            if constexpr (kVnni) {  // the sub-block's 32 products in int32
              s[r][t] = dot4_acc(L == 0 ? _mm256_setzero_si256() : s[r][t], v[r], x);
              continue;
            }
            const __m256i p = _mm256_maddubs_epi16(v[r], x);
            const bool first = kQ5 ? L % 4 == 0 : L == 0;
            s[r][t] = first ? p : _mm256_add_epi16(s[r][t], p);
          }
        }
        if (kVnni && L == 7)
          for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t)
              sum[r][t] = _mm256_add_epi32(sum[r][t], _mm256_mullo_epi32(s[r][t], sc[r]));
        if (!kVnni && (L == 7 || (kQ5 && L == 3)))
          for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) sum[r][t] = madd_acc(sum[r][t], s[r][t], sc[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256 d = w.d(r, b, 0), dmin = w.d(r, b, 1);
      for (int t = 0; t < T; ++t)
        acc[r][t] = q45k_block_out(sum[r][t], d, dmin, bmn + w.half[r] * 2 * kHalfRows, ad[t][b],
                                   as[t] + 8 * b, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) store_half(y + (t0 + t) * y_stride, h0 + r, n_rows, acc[r][t]);
}

// How far ahead in its quant stream a decode kernel here prefetches: further
// than the other decode kernels' kDecodeAhead, as these stream only one or two
// row groups at a time (their registers go to one group's sums), and one
// stream needs about the bytes a thread reads in a memory latency in flight
// (Zen 5, 2 threads, DecodeLayers: Q4_K 29 GB/s at 2 KiB, 36 at 8 KiB).
constexpr int64_t kVecAhead = 8192;

// Matrix x vector over Q4_K / Q5_K: R halves from an even h0 (R = 2: one
// group; R = 1: a group whose second half lies past the matrix) x one token,
// a pair of sub-blocks (2c, 2c + 1) at a time, so that each quant byte is
// loaded once for both of its nibbles (the tiles above load it once per
// sub-block, their registers going to tokens).
// A super-block's integer sum is exact in any order, and its float epilogue
// is the tiles', so a token's output does not depend on its batch.
template <int R, bool kQ5>
void vec_q45k(const PackedLayout& l, const uint8_t* packed, int64_t h0, const ActView& a, float* y,
              int64_t n_rows) {
  const int64_t nb = l.blocks;
  const HalfStreams<R> w(l, packed, h0);
  const size_t qb = w.stride;
  const auto& wq = w.q;
  const int8_t* aq = a.q(0);
  const float* ad = a.d(0);
  const int16_t* as = a.bsum(0);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    alignas(32) uint8_t bmn[8 * kPackRows];
    w.min_pairs(b, bmn);
    __m256i sum[R];
    for (int r = 0; r < R; ++r) sum[r] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i s0[R], s1[R], qh0[R], qh1[R];
      for (int r = 0; r < R; ++r) {
        if (r % 2 == 0)  // a quarter of a block (record and quants) per pair
          prefetch_lines(w.rec + b * qb + c * (qb / 4) + kVecAhead, kQ5 ? 11 : 9);
        qh0[r] = kQ5 ? load32(wq[r] + b * qb + 2048 + 128 * c) : _mm256_setzero_si256();
        qh1[r] = kQ5 ? load32(wq[r] + b * qb + 2048 + 128 * c + 64) : _mm256_setzero_si256();
      }
#pragma GCC unroll 8
      for (int L = 0; L < 8; ++L) {
        const __m256i x0 = bcast4(aq + 256 * b + 64 * c + 4 * L);
        const __m256i x1 = bcast4(aq + 256 * b + 64 * c + 32 + 4 * L);
        const bool first = kQ5 ? L % 4 == 0 : L == 0;
        for (int r = 0; r < R; ++r) {
          const __m256i w = load32(wq[r] + b * qb + (c * 8 + L) * 64);
          const __m256i w0 = step_weights<kQ5>(w, qh0[r], 0, L);
          const __m256i w1 = step_weights<kQ5>(w, qh1[r], 1, L);
          if constexpr (kVnni) {  // int32 sums, scaled once a sub-block (tile_q45k)
            s0[r] = dot4_acc(L == 0 ? _mm256_setzero_si256() : s0[r], w0, x0);
            s1[r] = dot4_acc(L == 0 ? _mm256_setzero_si256() : s1[r], w1, x1);
            continue;
          }
          const __m256i p0 = _mm256_maddubs_epi16(w0, x0);
          const __m256i p1 = _mm256_maddubs_epi16(w1, x1);
          s0[r] = first ? p0 : _mm256_add_epi16(s0[r], p0);
          s1[r] = first ? p1 : _mm256_add_epi16(s1[r], p1);
        }
        if (kVnni && L == 7)
          for (int r = 0; r < R; ++r) {
            const uint8_t* sc = w.scales(r, b, 2 * c);
            const __m256i m0 = _mm256_mullo_epi32(s0[r], scales_q45k_i32(sc));
            const __m256i m1 = _mm256_mullo_epi32(s1[r], scales_q45k_i32(sc + kPackRows));
            sum[r] = _mm256_add_epi32(sum[r], _mm256_add_epi32(m0, m1));
          }
        if (!kVnni && (L == 7 || (kQ5 && L == 3)))  // i16 sums as full as the tiles' (tile_q45k)
          for (int r = 0; r < R; ++r) {
            const uint8_t* sc = w.scales(r, b, 2 * c);
            sum[r] = madd_acc(madd_acc(sum[r], s0[r], scale_pairs_q45k(sc)), s1[r],
                              scale_pairs_q45k(sc + kPackRows));
          }
      }
    }
    for (int r = 0; r < R; ++r)
      acc[r] = q45k_block_out(sum[r], w.d(r, b, 0), w.d(r, b, 1), bmn + w.half[r] * 2 * kHalfRows,
                              ad[b], as + 8 * b, acc[r]);
  }
  for (int r = 0; r < R; ++r) store_half(y, h0 + r, n_rows, acc[r]);
}

// Q6_K: R halves x T tokens. Per 16-weight sub-block the 6-bit u = q + 32 of 8
// rows are assembled from the nibble and 2-bit planes into 4 operands of 4
// weights; two vpmaddubsw add in i16 (63 * 127 * 4 = 32004), then vpmaddwd by
// the rows' int8 scale. The -32 offset: + sc * corr16 (corr16 = -32 * sum of
// the sub-block's activations), one more vpmaddwd against corr16 split into
// two i16 halves (it may exceed an i16: 32 * 16 * 127).
// Sub-block j of a Q6_K half: operand k holds weights 16j + 4k .. 16j + 4k + 3
// of its 8 rows, u in 0..63, from the two nibble lines and the 2-bit line.
inline void q6_operands(const uint8_t* q, int j, __m256i w[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
  const __m256i ql0 = load32(q + 128 * j), ql1 = load32(q + 128 * j + 64);
  const __m256i qh = load32(q + 2048 + 64 * j);
  w[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                         _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
  w[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                         _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
  w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                         _mm256_and_si256(qh, bits45));
  w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
}

// acc + sub-block j's integer sum for one half and token: the 4 operands by
// the 4 broadcast activations x0..x3, times the rows' scale pairs `sc`, plus
// the offset's correction (`corr`: the token's corr16 of j as i16 halves).
inline __m256i q6_sub_block(__m256i acc, const __m256i w[4], __m256i x0, __m256i x1, __m256i x2,
                            __m256i x3, __m256i corr, __m256i sc) {
  if constexpr (kVnni) {  // (corr + the products) in int32, times the scale
    const __m256i p =
        dot4_acc(dot4_acc(dot4_acc(dot4_acc(corr, w[0], x0), w[1], x1), w[2], x2), w[3], x3);
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(p, sc));
  }
  const __m256i p01 =
      _mm256_add_epi16(_mm256_maddubs_epi16(w[0], x0), _mm256_maddubs_epi16(w[1], x1));
  const __m256i p23 =
      _mm256_add_epi16(_mm256_maddubs_epi16(w[2], x2), _mm256_maddubs_epi16(w[3], x3));
  return madd_acc(madd_acc(madd_acc(acc, p01, sc), p23, sc), corr, sc);
}

// `unpacked` (or null): the R halves' operands already assembled by
// unpack_half, [super-block][sub-block][operand][half]. Decode (T = 1)
// assembles its own.
template <int R, int T>
void tile_q6k(const PackedLayout& l, const uint8_t* packed, int64_t h0, const ActView& a,
              int64_t t0, float* y, int64_t y_stride, int64_t n_rows, const Ymm* unpacked) {
  const int64_t nb = l.blocks;
  const uint8_t *wq[R], *wsc[R];
  const uint16_t* wd[R];
  for (int r = 0; r < R; ++r) {
    const int64_t h = h0 + r, half = h % 2;
    const uint8_t* g = group_of(l, packed, h);
    wq[r] = g + half * 32;
    wsc[r] = g + nb * l.quant_bytes_per_block + half * kHalfRows;
    wd[r] =
        reinterpret_cast<const uint16_t*>(g + nb * l.quant_bytes_per_block + nb * 16 * kPackRows) +
        half * kHalfRows;
  }
  const int8_t* aq[T];
  const float* ad[T];
  const int32_t* ac[T];
  for (int t = 0; t < T; ++t) aq[t] = a.q(t0 + t), ad[t] = a.d(t0 + t), ac[t] = a.corr16(t0 + t);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();

  for (int64_t b = 0; b < nb; ++b) {
    // Each token's corr16 of the super-block as i16 halves (c0, c1), c0 + c1 =
    // c, for vpmaddwd: split here with vector ops, not per sub-block and row
    // half with scalar ones.
    alignas(32) int32_t pairs[T][16];
    for (int t = 0; t < T && !kVnni; ++t)
      for (int k = 0; k < 2; ++k) {
        const __m256i c =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ac[t] + 16 * b + 8 * k));
        const __m256i c0 = _mm256_srai_epi32(c, 1), c1 = _mm256_sub_epi32(c, c0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(pairs[t] + 8 * k),
                           _mm256_or_si256(_mm256_and_si256(c0, _mm256_set1_epi32(0xFFFF)),
                                           _mm256_slli_epi32(c1, 16)));
      }
    __m256i sum[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) sum[r][t] = _mm256_setzero_si256();
    if constexpr (T == 1)  // decode: each group's streams once (from its first half), ahead
      for (int r = 0; r < R; ++r)
        if ((h0 + r) % 2 == 0) {
          prefetch_lines(wsc[r] + (b + 2) * 16 * kPackRows, 4);
          prefetch_lines(wd[r] + (b + 2) * kPackRows, 1);
        }
    for (int j = 0; j < 16; ++j) {
      if constexpr (T == 1) {
        // Decode: each half's operands consumed as soon as assembled, so that
        // R halves' 4 operands each (16 ymm) are never live at once.
        const int8_t* x = aq[0] + 256 * b + 16 * j;
        const __m256i corr = _mm256_set1_epi32(kVnni ? ac[0][16 * b + j] : pairs[0][j]);
        const __m256i x0 = bcast4(x), x1 = bcast4(x + 4), x2 = bcast4(x + 8), x3 = bcast4(x + 12);
        for (int r = 0; r < R; ++r) {
          if ((h0 + r) % 2 == 0)  // a sixteenth of the super-block's quants
            prefetch_lines(wq[r] + b * l.quant_bytes_per_block + 192 * j + kVecAhead, 3);
          __m256i w[4];
          q6_operands(wq[r] + b * l.quant_bytes_per_block, j, w);
          const uint8_t* scp = wsc[r] + (b * 16 + j) * kPackRows;
          const __m256i sc = kVnni ? scales_s8_i32(scp) : scale_pairs_s8(scp);
          sum[r][0] = q6_sub_block(sum[r][0], w, x0, x1, x2, x3, corr, sc);
        }
        continue;
      }
      __m256i w[R][4], sc[R];
      for (int r = 0; r < R; ++r) {
        if (unpacked) {
          for (int k = 0; k < 4; ++k) w[r][k] = unpacked[((b * 16 + j) * 4 + k) * R + r].v;
        } else {
          q6_operands(wq[r] + b * l.quant_bytes_per_block, j, w[r]);
        }
        const uint8_t* scp = wsc[r] + (b * 16 + j) * kPackRows;
        sc[r] = kVnni ? scales_s8_i32(scp) : scale_pairs_s8(scp);
      }
      for (int t = 0; t < T; ++t) {
        const int8_t* x = aq[t] + 256 * b + 16 * j;
        const __m256i corr = _mm256_set1_epi32(kVnni ? ac[t][16 * b + j] : pairs[t][j]);
        const __m256i x0 = bcast4(x), x1 = bcast4(x + 4), x2 = bcast4(x + 8), x3 = bcast4(x + 12);
        for (int r = 0; r < R; ++r)
          sum[r][t] = q6_sub_block(sum[r][t], w[r], x0, x1, x2, x3, corr, sc[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256 dw =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wd[r] + b * kPackRows)));
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[r][t]),
                                    _mm256_mul_ps(dw, _mm256_set1_ps(ad[t][b])), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) store_half(y + (t0 + t) * y_stride, h0 + r, n_rows, acc[r][t]);
}

enum class KType { kQ4, kQ5, kQ6 };

// Assembles the weights of half h once for a block of tokens, where each
// 4-token tile would otherwise redo it: 64 ymm a super-block, in the order the
// tiles read them (Q4_K/Q5_K: [sub-block][step], Q6_K: [sub-block][operand]);
// then Q4_K's and Q5_K's min pairs, 4 ymm a super-block (tile_q45k).
// Q5_K's five-bit assembly is about a third of its tile's vector operations
// (FFN matrix, 512 tokens, 2 threads: 35-36 ms against 51-53), Q6_K's
// six-bit one as much (36-39 against 42), Q4_K's nibble split less (31-32
// against 33-35).
template <KType K>
const Ymm* unpack_half(const PackedLayout& l, const uint8_t* packed, int64_t h,
                       std::vector<Ymm>& out) {
  const size_t mins = K == KType::kQ6 ? 0 : 4;
  out.resize(static_cast<size_t>(l.blocks) * (64 + mins));
  const uint8_t* wq = group_of(l, packed, h) + (h % 2) * 32;
  Ymm* o = out.data();
  if constexpr (K != KType::kQ6) {
    const HalfStreams<1> w(l, packed, h);
    wq = w.q[0];
    auto* m = reinterpret_cast<uint8_t*>(o + l.blocks * 64);
    for (int64_t b = 0; b < l.blocks; ++b) w.min_pairs(b, m + b * 8 * kPackRows);
  }
  for (int64_t b = 0; b < l.blocks; ++b, wq += l.block_stride) {
    if constexpr (K == KType::kQ6) {
      for (int j = 0; j < 16; ++j) {
        __m256i w[4];
        q6_operands(wq, j, w);
        for (int k = 0; k < 4; ++k) (o++)->v = w[k];
      }
    } else {
      constexpr bool kQ5 = K == KType::kQ5;
      for (int g = 0; g < 8; ++g) {
        const __m256i qh = kQ5 ? load32(wq + 2048 + 64 * g) : _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int L = 0; L < 8; ++L)
          (o++)->v = step_weights<kQ5>(load32(wq + ((g / 2) * 8 + L) * 64), qh, g, L);
      }
    }
  }
  return out.data();
}

template <KType K, int R, int T>
void tile(const PackedLayout& l, const uint8_t* packed, int64_t h0, const ActView& a, int64_t t0,
          float* y, int64_t y_stride, int64_t n_rows, const Ymm* unpacked = nullptr) {
  if constexpr (K == KType::kQ6)
    tile_q6k<R, T>(l, packed, h0, a, t0, y, y_stride, n_rows, unpacked);
  else
    tile_q45k<R, T, K == KType::kQ5>(l, packed, h0, a, t0, y, y_stride, n_rows, unpacked);
}

template <KType K, int R, int kMaxT>
void tile_tokens(const PackedLayout& l, const uint8_t* packed, int64_t h, const ActView& a,
                 int64_t t0, int nt, float* y, int64_t y_stride, int64_t n_rows,
                 const Ymm* unpacked) {
  if constexpr (kMaxT > 0) {
    if (nt == kMaxT) return tile<K, R, kMaxT>(l, packed, h, a, t0, y, y_stride, n_rows, unpacked);
    tile_tokens<K, R, kMaxT - 1>(l, packed, h, a, t0, nt, y, y_stride, n_rows, unpacked);
  }
}

constexpr int64_t kTokenBlock = 48;

template <KType K>
void gemm_k(const PackedLayout& l, const uint8_t* packed, int64_t g_begin, int64_t g_end,
            int64_t n_rows, const uint8_t* acts, int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t cols = l.blocks * 256;
  const ActView a{acts, packed_q8k_activation_stride(cols), cols};
  const int64_t h_begin = 2 * g_begin;
  const int64_t h_end = std::min(2 * g_end, (n_rows + kHalfRows - 1) / kHalfRows);
  if (n_tokens == 1) {
    // Matrix x vector, one group (Q4_K, Q5_K) or two (Q6_K) at a time. On
    // Zen 5 with 2 threads: more groups spill the sums out of the 16 ymm (the
    // 4-group tile this replaced: Q5_K_M generation 42 tok/s, vec_q45k with
    // kVecAhead 45), and Q6_K with 1 group per call read memory slower than
    // with 2 (DecodeLayers).
    int64_t h = h_begin;
    if constexpr (K == KType::kQ6) {
      for (; h + 4 <= h_end; h += 4) tile<K, 4, 1>(l, packed, h, a, 0, y, y_stride, n_rows);
      for (; h + 2 <= h_end; h += 2) tile<K, 2, 1>(l, packed, h, a, 0, y, y_stride, n_rows);
      if (h < h_end) tile<K, 1, 1>(l, packed, h, a, 0, y, y_stride, n_rows);
    } else {
      constexpr bool kQ5 = K == KType::kQ5;
      for (; h + 2 <= h_end; h += 2) vec_q45k<2, kQ5>(l, packed, h, a, y, n_rows);
      if (h < h_end) vec_q45k<1, kQ5>(l, packed, h, a, y, n_rows);
    }
    return;
  }
  // 1 half x 4 tokens: the weights' assembly, most of the work, shared by 4
  // tokens; 4 i16 sums + 4 int32 sums + 4 accumulators (or Q6_K's 4
  // operands) fill the 16 ymm. (Measured: 2 x 2 and 1 x 3 no faster for
  // Q4_K, 2 x 2 slower for Q6_K.)
  constexpr int kR = 1, kT = 4;
  static_assert(kR == 1, "the unpack functions assemble one half at a time");
  thread_local std::vector<Ymm> unpack_buf;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    const bool unpack = t1 - t0 > kT;
    for (int64_t h = h_begin; h < h_end; ++h) {
      const Ymm* u = unpack ? unpack_half<K>(l, packed, h, unpack_buf) : nullptr;
      for (int64_t t = t0; t < t1; t += kT)
        tile_tokens<K, kR, kT>(l, packed, h, a, t, static_cast<int>(std::min<int64_t>(kT, t1 - t)),
                               y, y_stride, n_rows, u);
    }
  }
}

}  // namespace

void HEARTH_YMM(gemm_packed_q4k)(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                                 int64_t g_end, int64_t n_rows, const uint8_t* acts,
                                 int64_t n_tokens, float* y, int64_t y_stride) {
  gemm_k<KType::kQ4>(l, packed, g_begin, g_end, n_rows, acts, n_tokens, y, y_stride);
}

void HEARTH_YMM(gemm_packed_q5k)(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                                 int64_t g_end, int64_t n_rows, const uint8_t* acts,
                                 int64_t n_tokens, float* y, int64_t y_stride) {
  gemm_k<KType::kQ5>(l, packed, g_begin, g_end, n_rows, acts, n_tokens, y, y_stride);
}

void HEARTH_YMM(gemm_packed_q6k)(const PackedLayout& l, const uint8_t* packed, int64_t g_begin,
                                 int64_t g_end, int64_t n_rows, const uint8_t* acts,
                                 int64_t n_tokens, float* y, int64_t y_stride) {
  gemm_k<KType::kQ6>(l, packed, g_begin, g_end, n_rows, acts, n_tokens, y, y_stride);
}

}  // namespace hearth::kernels
