// Unpacks a Q4_K / Q5_K block record (repack.h) into one byte a sub-block and
// row, the form the kernels read scales and mins in: the AVX-512 kernels
// (gemm_q4k_avx512.cpp) both, the AVX2 ones (gemm_packed_k_avx2.cpp) the mins
// (their scales are masked as read). Once a block and row group: about 40
// vector operations against the 2048 or more bytes of quants the group's block
// multiplies. Measured on Zen 5 with 2 threads (DecodeLayers, alternated with
// the byte records it replaced, 4 rounds): AVX-512 Q4_K and Q5_K no slower
// (about 1% and 3% faster), AVX2 Q5_K 1% and Q4_K about 5% slower, where the
// kernel's vector work shows from memory.
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

// `rec`: one block's record (64-byte aligned); `mn`: [8 sub-blocks][16 rows]
// bytes, 32-byte aligned, the mins in 0..63.
inline void unpack_q45k_mins(const uint8_t* rec, uint8_t* mn) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
  // Sub-blocks 2k and 2k + 1 (one ymm) take the low and high nibbles of pair
  // k's bytes: the 16 bytes in both lanes, the high lane shifted down 4 (the
  // bits a 64-bit shift carries across bytes are masked off).
  const __m256i nibble = _mm256_setr_epi64x(0, 0, 4, 4);
  for (int k = 0; k < 4; ++k) {
    const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 32 * k));
    const __m256i pair = _mm256_broadcastsi128_si256(
        _mm_load_si128(reinterpret_cast<const __m128i*>(rec + kQ45kRecordMinHigh + 16 * k)));
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srlv_epi64(pair, nibble), low4),
                                           2);  // mn >> 2, back in place
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(s, 6), low2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(mn + 32 * k), _mm256_or_si256(high, low));
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
