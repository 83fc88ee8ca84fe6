#include "kernels/act_quant.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::kernels {

using gguf::TensorType;
namespace q = hearth::quant;

TensorType activation_type(TensorType weight) {
  switch (weight) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return TensorType::Q8_1;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return TensorType::Q8_K;
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::F32:
      return weight;
    default:
      throw std::invalid_argument("no matrix multiplication for weight type " +
                                  std::string(gguf::type_name(weight)));
  }
}

size_t activation_row_bytes(TensorType act, int64_t n) {
  switch (act) {
    case TensorType::Q8_0:
      return n / q::kQK * sizeof(q::BlockQ8_0);
    case TensorType::Q8_1:
      return n / q::kQK * sizeof(q::BlockQ8_1);
    case TensorType::Q8_K:
      return n / q::kQK_K * sizeof(q::BlockQ8_K);
    case TensorType::F16:
    case TensorType::BF16:
      return n * 2;
    case TensorType::F32:
      return n * 4;
    default:
      throw std::invalid_argument("not an activation type: " + std::string(gguf::type_name(act)));
  }
}

namespace detail {
namespace {

// Round to nearest, ties to even (the default FP mode, like _mm256_round_ps).
inline int round_even(float v) { return static_cast<int>(std::nearbyint(v)); }

// One 32-block: scale 127 / max|x|. Returns sum of the quantized values.
inline int quantize_block32(const float* x, int8_t* qs, float& d) {
  float amax = 0;
  for (int j = 0; j < q::kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  int sum = 0;
  for (int j = 0; j < q::kQK; ++j) {
    qs[j] = static_cast<int8_t>(round_even(x[j] * id));
    sum += qs[j];
  }
  return sum;
}

}  // namespace

void quantize_q8_0_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
  }
}

void quantize_q8_1_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    float d;
    const int sum = quantize_block32(x + b * q::kQK, y[b].qs, d);
    y[b].d = q::fp32_to_fp16(d);
    y[b].s = q::fp32_to_fp16(d * static_cast<float>(sum));
  }
}

}  // namespace detail

namespace {

void quantize_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<q::BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / q::kQK_K; ++b, x += q::kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < q::kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0) {
      y[b] = {};
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < q::kQK_K; ++j) {
      const int v = detail::round_even(iscale * x[j]);
      y[b].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int g = 0; g < q::kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[b].qs[16 * g + j];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1 / iscale;
  }
}

}  // namespace

void quantize_activations(TensorType act, const float* x, void* dst, int64_t n, SimdLevel level) {
  const bool wide = level >= SimdLevel::kAvx512, avx2 = is_ymm_level(level);
  switch (act) {
    case TensorType::Q8_0:
      return wide   ? detail::quantize_q8_0_avx512(x, dst, n)
             : avx2 ? detail::quantize_q8_0_avx2(x, dst, n)
                    : detail::quantize_q8_0_scalar(x, dst, n);
    case TensorType::Q8_1:
      return wide   ? detail::quantize_q8_1_avx512(x, dst, n)
             : avx2 ? detail::quantize_q8_1_avx2(x, dst, n)
                    : detail::quantize_q8_1_scalar(x, dst, n);
    case TensorType::Q8_K:
      return wide   ? detail::quantize_q8_k_avx512(x, dst, n)
             : avx2 ? detail::quantize_q8_k_avx2(x, dst, n)
                    : quantize_q8_k(x, dst, n);
    case TensorType::F16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = q::fp32_to_fp16(x[i]);
      return;
    }
    case TensorType::BF16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = q::fp32_to_bf16(x[i]);
      return;
    }
    case TensorType::F32: {
      auto* y = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      return;
    }
    default:
      throw std::invalid_argument("not an activation type: " + std::string(gguf::type_name(act)));
  }
}

}  // namespace hearth::kernels
