// What the AVX2 tiles over the packed layout share (gemm_packed_avx2.cpp,
// gemm_packed_k_avx2.cpp): the half-group unit, its loads and stores, and the
// integer dot products. Internal to kernels; include only from files compiled
// with AVX2 flags. An unnamed namespace: no out-of-line copy is shared with
// other instruction sets.
//
// Those two files are compiled twice: as themselves, and included by
// gemm_packed_avxvnni.cpp and gemm_packed_k_avxvnni.cpp, whose flags add
// AVX-VNNI (__AVXVNNI__). kVnni tells the code which, and HEARTH_YMM(name)
// names what each copy exports (name_avx2, name_avxvnni).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVXVNNI__)
#define HEARTH_YMM(name) name##_avxvnni
#else
#define HEARTH_YMM(name) name##_avx2
#endif

namespace hearth::kernels {
namespace {

#if defined(__AVXVNNI__)
constexpr bool kVnni = true;
#else
constexpr bool kVnni = false;
#endif

// acc + each int32 lane's 4 products of u (u8) by s (s8), summed. With
// AVX-VNNI one vpdpbusd, exact; with AVX2 vpmaddubsw then vpmaddwd by ones,
// exact only where the caller knows a pair of products fits an i16.
inline __m256i dot4_acc(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// dot4_acc for a sum carried around a step loop that is not unrolled (the
// Q4_0/Q8_0 prompt tiles): vpdpbusd written as asm that adds into acc's own
// register. With the intrinsic, GCC 12 copied each of the Q8_0 prompt tile's
// 6 sums to another register and back around every vpdpbusd of the step
// loop, 12 vmovdqa for 6 products; one thread, Q8_0 FFN matrix x 512 tokens
// on an Intel Xeon: 99 -> 78 ms (medians of three alternated runs). The K
// tiles' loops are unrolled, GCC allocates them well, and they keep the
// intrinsic (the asm there measured no better).
inline __m256i dot4_acc_in_place(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVXVNNI__)
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "x"(s));
  return acc;
#else
  return dot4_acc(acc, u, s);
#endif
}

// acc + p, added in acc's own register: the AVX2 prompt and decode tiles'
// sums carried around a step loop that is not unrolled, for the reason
// dot4_acc_in_place gives. With the intrinsic, GCC 12 added each product
// into a new register and copied it back, 4 vmovdqa a step of the Q8_0 2 x 2
// tile's 31 instructions.
inline __m256i add_epi32_in_place(__m256i acc, __m256i p) {
  asm("vpaddd %1, %0, %0" : "+x"(acc) : "x"(p));
  return acc;
}
inline __m256i add_epi16_in_place(__m256i acc, __m256i p) {
  asm("vpaddw %1, %0, %0" : "+x"(acc) : "x"(p));
  return acc;
}

// acc + vpmaddwd(a, b) (i16 pairs multiplied and summed into int32 lanes):
// one vpdpwssd with AVX-VNNI.
inline __m256i madd_acc(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVXVNNI__)
  return _mm256_dpwssd_avx_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

// Rows per ymm of int32 lanes: a 16-row group of repack.h is two halves, half
// h being rows 8h..8h+7, the (h % 2)-th 32 bytes of each of group h / 2's
// 64-byte lines.
constexpr int kHalfRows = 8;

// 4 activations (int8) in every int32 lane.
inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// A ymm as an element type (a std::vector<__m256i> would drop its alignment).
struct alignas(32) Ymm {
  __m256i v;
};

inline __m256i load32(const uint8_t* p) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
}

// Stores the 8 outputs of half h to y[8h..], those of rows below n_rows.
inline void store_half(float* y, int64_t h, int64_t n_rows, __m256 v) {
  const int64_t row0 = h * kHalfRows;
  const int64_t valid = std::min<int64_t>(kHalfRows, n_rows - row0);
  if (valid == kHalfRows) return _mm256_storeu_ps(y + row0, v);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  _mm256_maskstore_ps(y + row0,
                      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), lane), v);
}

}  // namespace
}  // namespace hearth::kernels
