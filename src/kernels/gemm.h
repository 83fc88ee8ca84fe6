// The kernel table behind WeightMatrix: one dot-product tile kernel per weight
// type and SIMD level. Internal to kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/types.h"
#include "kernels/cpu_features.h"

namespace hearth::kernels {

// Dot products of nr weight rows with nt activation rows of n values each:
//   y[t * y_stride + r] = dot(W[r], A[t])   for r < nr, t < nt.
// w: nr rows of w_row_bytes (the weight type's GGUF layout); a: nt rows of
// a_row_bytes in activation_type(weight type). Any nr, nt >= 1.
using GemmKernel = void (*)(int64_t n, const void* w, size_t w_row_bytes, int nr, const void* a,
                            size_t a_row_bytes, int nt, float* y, int64_t y_stride);

// The kernel of exactly `level` for `weight`, or nullptr where that level has
// none (the caller falls back to a lower level; kScalar covers every type).
GemmKernel gemm_kernel(gguf::TensorType weight, SimdLevel level);

// The best kernel this CPU runs for `weight` at or below `level`.
GemmKernel best_gemm_kernel(gguf::TensorType weight, SimdLevel level);

// A GemmKernel from a one-row-times-one-token dot product (the simple kernels).
template <float (*Dot)(int64_t n, const void* w, const void* a)>
void gemm_by_rows(int64_t n, const void* w, size_t w_row_bytes, int nr, const void* a,
                  size_t a_row_bytes, int nt, float* y, int64_t y_stride) {
  const auto* wp = static_cast<const uint8_t*>(w);
  const auto* ap = static_cast<const uint8_t*>(a);
  for (int t = 0; t < nt; ++t)
    for (int r = 0; r < nr; ++r)
      y[t * y_stride + r] = Dot(n, wp + r * w_row_bytes, ap + t * a_row_bytes);
}

// A dot product of one weight row with several tokens' activations at once:
// out[t * out_stride] for the tokens at a, a + a_stride, ...
using MultiDot = void (*)(int64_t n, const void* w, const uint8_t* a, size_t a_stride, float* out,
                          int64_t out_stride);

// A GemmKernel from a 4-token and a 1-token MultiDot: tokens in fours, the
// rest one at a time (kernels whose weight decoding is worth sharing).
template <MultiDot Dot4, MultiDot Dot1>
void gemm_by_rows_x4(int64_t n, const void* w, size_t w_row_bytes, int nr, const void* a,
                     size_t a_row_bytes, int nt, float* y, int64_t y_stride) {
  const auto* wp = static_cast<const uint8_t*>(w);
  const auto* ap = static_cast<const uint8_t*>(a);
  for (int r = 0; r < nr; ++r) {
    int t = 0;
    for (; t + 4 <= nt; t += 4)
      Dot4(n, wp + r * w_row_bytes, ap + t * a_row_bytes, a_row_bytes, y + t * y_stride + r,
           y_stride);
    for (; t < nt; ++t)
      Dot1(n, wp + r * w_row_bytes, ap + t * a_row_bytes, a_row_bytes, y + t * y_stride + r,
           y_stride);
  }
}

namespace detail {
GemmKernel gemm_kernel_scalar(gguf::TensorType weight);
GemmKernel gemm_kernel_avx2(gguf::TensorType weight);
GemmKernel gemm_kernel_avx512(gguf::TensorType weight);
}  // namespace detail

}  // namespace hearth::kernels
