// std::exp(float) as glibc (2.27 and later) computes it, on 8 lanes, for arguments <= 0: the
// per-row attention's softmax factors, which must be the bits llama.cpp's scalar expf gives.
// glibc's ifunc picks its FMA build wherever FMA exists (every machine these kernels run on), so
// this follows that build's steps: in double, k and r from one fused x / ln2 * 32 + shift, 2^(k/32)
// from the 32-entry table with k's high bits added to the exponent, the cubic in r with its FMAs
// where that build has them, one rounding to float at the end; below
// log(2^-149) its underflow results. Checked against std::exp on every
// 61st negative float and its edge cases (CpuBackend.ExpfLanesAreLibmBits).
// Internal to kernels; include only from files compiled with AVX2 and FMA.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace hearth::kernels {
namespace {  // compiled per instruction set: see gemm_packed.h

namespace expf_libm {
// glibc's __exp2f_data: tab[i] = bits of 2^(i/32) - (i << 47), the
// exponent of the result added later from k.
alignas(64) constexpr uint64_t kTab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
constexpr double kInvLn2N = 0x1.71547652b82fep+5;  // 32 / ln 2
constexpr double kShift = 0x1.8p+52;
constexpr double kC0 = 0x1.c6af84b912394p-20, kC1 = 0x1.ebfce50fac4f3p-13,
                 kC2 = 0x1.62e42ff0c52d6p-6;
// Below kUnder the result is 0; from kUnder up to kMayUnder, the smallest
// subnormal (glibc's __math_uflowf and __math_may_uflowf).
constexpr float kUnder = -0x1.9fe368p6f, kMayUnder = -0x1.9d1d9ep6f;
constexpr float kTiny = 0x1p-149f;
}  // namespace expf_libm

// 4 lanes in double: x (as double) to exp(x) before its rounding to float.
inline __m256d expf_libm_pd4(__m256d xd) {
  using namespace expf_libm;
  const __m256d inv = _mm256_set1_pd(kInvLn2N), shift = _mm256_set1_pd(kShift);
  const __m256d kds = _mm256_fmadd_pd(inv, xd, shift);
  const __m256i ki = _mm256_castpd_si256(kds);
  const __m256d r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kds, shift));
  const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
  const __m256i t =
      _mm256_add_epi64(_mm256_i64gather_epi64(reinterpret_cast<const long long*>(kTab), idx, 8),
                       _mm256_slli_epi64(ki, 47));
  const __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(kC0), _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  const __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(kC2), _mm256_set1_pd(1.0));
  return _mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), _mm256_castsi256_pd(t));
}

#ifdef __AVX512F__
// 8 lanes in double, as expf_libm_pd4; the table is 4 zmm, picked by two
// two-source permutes.
inline __m512d expf_libm_pd8(__m512d xd) {
  using namespace expf_libm;
  const __m512d inv = _mm512_set1_pd(kInvLn2N), shift = _mm512_set1_pd(kShift);
  const __m512d kds = _mm512_fmadd_pd(inv, xd, shift);
  const __m512i ki = _mm512_castpd_si512(kds);
  const __m512d r = _mm512_fmsub_pd(inv, xd, _mm512_sub_pd(kds, shift));
  const __m512i t0 = _mm512_load_si512(kTab), t1 = _mm512_load_si512(kTab + 8);
  const __m512i t2 = _mm512_load_si512(kTab + 16), t3 = _mm512_load_si512(kTab + 24);
  const __m512i low = _mm512_permutex2var_epi64(t0, ki, t1);  // entries 0..15 (index bits 0-3)
  const __m512i high = _mm512_permutex2var_epi64(t2, ki, t3);
  const __mmask8 upper = _mm512_test_epi64_mask(ki, _mm512_set1_epi64(16));
  const __m512i t =
      _mm512_add_epi64(_mm512_mask_blend_epi64(upper, low, high), _mm512_slli_epi64(ki, 47));
  const __m512d z = _mm512_fmadd_pd(r, _mm512_set1_pd(kC0), _mm512_set1_pd(kC1));
  const __m512d r2 = _mm512_mul_pd(r, r);
  const __m512d y = _mm512_fmadd_pd(r, _mm512_set1_pd(kC2), _mm512_set1_pd(1.0));
  return _mm512_mul_pd(_mm512_fmadd_pd(z, r2, y), _mm512_castsi512_pd(t));
}
#endif

// exp of 8 floats <= 0: in double, one zmm on AVX-512, two ymm on AVX2.
inline __m256 expf_libm8(__m256 x) {
  using namespace expf_libm;
#ifdef __AVX512F__
  const __m256 e = _mm512_cvtpd_ps(expf_libm_pd8(_mm512_cvtps_pd(x)));
#else
  const __m128 lo = _mm256_cvtpd_ps(expf_libm_pd4(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
  const __m128 hi = _mm256_cvtpd_ps(expf_libm_pd4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
  const __m256 e = _mm256_set_m128(hi, lo);
#endif
  const __m256 tiny =
      _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kUnder), _CMP_GE_OQ), _mm256_set1_ps(kTiny));
  return _mm256_blendv_ps(e, tiny, _mm256_cmp_ps(x, _mm256_set1_ps(kMayUnder), _CMP_LT_OQ));
}

}  // namespace
}  // namespace hearth::kernels
