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

namespace detail {
GemmKernel gemm_kernel_scalar(gguf::TensorType weight);
GemmKernel gemm_kernel_avx2(gguf::TensorType weight);
GemmKernel gemm_kernel_avx512(gguf::TensorType weight);
}  // namespace detail

}  // namespace hearth::kernels
