// Unpacks a Q4_K / Q5_K block record (repack.h) into one byte a sub-block and
// row, the form the kernels read scales and mins in. Shared by the AVX2 and
// AVX-512 kernels (gemm_packed_k_avx2.cpp, gemm_q4k_avx512.cpp): once a block
// and row group, about 40 vector operations against the 2048 or more bytes of
// quants the group's block multiplies.
// Internal to kernels; include only from files compiled with AVX2 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/repack.h"

namespace hearth::kernels {
namespace {

// `rec`: one block's record (64-byte aligned); `sc`, `mn`: [8 sub-blocks][16
// rows] bytes each, 32-byte aligned, sc in 0..63 and mn in 0..63.
inline void unpack_q45k_scales(const uint8_t* rec, uint8_t* sc, uint8_t* mn) {
  const __m256i low6 = _mm256_set1_epi8(0x3F), low4 = _mm256_set1_epi8(0x0F),
                low2 = _mm256_set1_epi8(0x03);
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
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc + 32 * k), _mm256_and_si256(s, low6));
  }
}

}  // namespace
}  // namespace hearth::kernels
