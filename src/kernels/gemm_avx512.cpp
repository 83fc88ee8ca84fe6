// AVX-512 VNNI kernels (dpbusd on int8).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace hearth::kernels::detail {

GemmKernel gemm_kernel_avx512(gguf::TensorType) { return nullptr; }

}  // namespace hearth::kernels::detail
