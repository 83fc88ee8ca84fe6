// Unpacks a Q4_K / Q5_K block record (repack.h) into one byte a sub-block and
// row, the form the kernels read scales and mins in: the AVX-512 kernels
// (gemm_q4k_avx512.cpp) both, the AVX2 ones (gemm_packed_k_avx2.cpp) the mins,
// paired by sub-blocks for their integer sums (their scales are masked as
// read). Once a block and row group: about 40 vector operations against the
// 2048 or more bytes of quants the group's block multiplies. Measured on Zen 5
// with 2 threads (DecodeLayers, alternated with the byte records it replaced,
// 4 rounds): AVX-512 Q4_K and Q5_K no slower (about 1% and 3% faster); at
// AVX2, with the mins then summed in floats, Q5_K 1% and Q4_K about 5%
// slower, which the integer mins more than won back (Q4_K 44 against 40 GB/s,
// Q5_K even).
// Internal to kernels; include only from files compiled with AVX2 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/repack.h"

namespace hearth::kernels {
namespace {

// Bits 0-5 of each byte of the record's first 128: the scales (a byte to
// mask where read, or `unpack_q45k_scales` below).
constexpr uint8_t kQ45kScaleMask = 0x3F;

// Pair k's mins from `rec` (one block's record, 64-byte aligned): sub-block
// 2k's of the 16 rows in the low lane, 2k + 1's in the high, bytes in 0..63.
inline __m256i q45k_min_pair(const uint8_t* rec, int k) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
  // Both lanes take pair k's 16 bytes of mn >> 2, the high lane shifted down 4
  // to its high nibbles (the bits a 64-bit shift carries across bytes are
  // masked off).
  const __m256i nibble = _mm256_setr_epi64x(0, 0, 4, 4);
  const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 32 * k));
  const __m256i pair = _mm256_broadcastsi128_si256(
      _mm_load_si128(reinterpret_cast<const __m128i*>(rec + kQ45kRecordMinHigh + 16 * k)));
  const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srlv_epi64(pair, nibble), low4),
                                         2);  // mn >> 2, back in place
  return _mm256_or_si256(high, _mm256_and_si256(_mm256_srli_epi16(s, 6), low2));
}

// `mn`: [8 sub-blocks][16 rows] bytes, 32-byte aligned, the mins in 0..63.
inline void unpack_q45k_mins(const uint8_t* rec, uint8_t* mn) {
  for (int k = 0; k < 4; ++k)
    _mm256_store_si256(reinterpret_cast<__m256i*>(mn + 32 * k), q45k_min_pair(rec, k));
}

// `mp`: [4 pairs k][16 rows][2] bytes, 32-byte aligned: row i's mins of
// sub-blocks 2k and 2k + 1 side by side, rows 0-7 in the first 16 bytes of a
// pair, so that one vpmovzxbw makes the i16 pairs vpmaddwd multiplies by a
// token's two sub-block sums (the AVX2 kernels' integer mins).
inline void unpack_q45k_min_pairs(const uint8_t* rec, uint8_t* mp) {
  // Per lane: row i's byte of 2k (byte i) beside its byte of 2k + 1 (8 + i).
  const __m256i zip = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8,
                                       1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  for (int k = 0; k < 4; ++k) {
    // Quadwords [2k rows 0-7, 2k+1 rows 0-7 | 2k rows 8-15, 2k+1 rows 8-15].
    const __m256i v = _mm256_permute4x64_epi64(q45k_min_pair(rec, k), 0xD8);
    _mm256_store_si256(reinterpret_cast<__m256i*>(mp + 32 * k), _mm256_shuffle_epi8(v, zip));
  }
}

// The same, and `sc` ([8 sub-blocks][16 rows] bytes, 32-byte aligned) the
// scales in 0..63.
inline void unpack_q45k_scales(const uint8_t* rec, uint8_t* sc, uint8_t* mn) {
  unpack_q45k_mins(rec, mn);
  const __m256i mask = _mm256_set1_epi8(kQ45kScaleMask);
  for (int k = 0; k < 4; ++k)
    _mm256_store_si256(
        reinterpret_cast<__m256i*>(sc + 32 * k),
        _mm256_and_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 32 * k)), mask));
}

}  // namespace
}  // namespace hearth::kernels
