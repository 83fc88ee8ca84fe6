// The activation records of the packed kernels (gemm_packed.h): sizes, and
// the Q8_K record built from quantize_activations at any level. Compiled
// without SIMD flags: it runs on every CPU that has a packed kernel.
#include <cstring>

#include "kernels/act_quant.h"
#include "kernels/gemm_packed.h"
#include "quant/blocks.h"

namespace hearth::kernels {

namespace q = hearth::quant;

size_t packed_activation_stride(int64_t cols) {
  const size_t bytes = cols + cols / 32 * 8;
  return (bytes + 63) / 64 * 64;
}

size_t packed_q8k_activation_stride(int64_t cols) {
  const size_t bytes = cols + cols / 256 * 4 + cols / 32 * 4 + cols / 16 * 4 + cols / 32 * 2;
  return (bytes + 63) / 64 * 64;
}

void prepare_packed_activations_q8k(const float* x, int64_t cols, uint8_t* dst, SimdLevel level) {
  auto* qs = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + cols);
  auto* dsum = reinterpret_cast<float*>(dst + cols + cols / 256 * 4);
  auto* corr16 = reinterpret_cast<int32_t*>(dst + cols + cols / 256 * 4 + cols / 32 * 4);
  auto* bsum = reinterpret_cast<int16_t*>(corr16 + cols / 16);
  for (int64_t b = 0; b < cols / 256; ++b) {
    q::BlockQ8_K blk;
    quantize_activations(gguf::TensorType::Q8_K, x + 256 * b, &blk, 256, level);
    std::memcpy(qs + 256 * b, blk.qs, 256);
    d[b] = blk.d;
    for (int g = 0; g < 8; ++g) {
      const int sum = blk.bsums[2 * g] + blk.bsums[2 * g + 1];  // |sum| <= 32 * 127
      dsum[8 * b + g] = blk.d * static_cast<float>(sum);
      bsum[8 * b + g] = static_cast<int16_t>(sum);
    }
    for (int g = 0; g < 16; ++g) corr16[16 * b + g] = -32 * blk.bsums[g];
  }
}

}  // namespace hearth::kernels
