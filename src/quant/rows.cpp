// Dispatch from a tensor type to its row kernels (row_impl.h).
#include "quant/rows.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "quant/fp16.h"
#include "quant/row_impl.h"

namespace hearth::quant {
namespace {

using gguf::TensorType;

[[noreturn]] void unsupported(const char* what, TensorType type) {
  throw std::invalid_argument(std::string(what) + ": tensor type " +
                              std::string(gguf::type_name(type)) + " (id " +
                              std::to_string(static_cast<uint32_t>(type)) + ") is not supported");
}

void check_length(TensorType type, int64_t n) {
  const gguf::TypeTraits* traits = gguf::type_traits(type);
  if (traits == nullptr) return;  // the caller reports the unknown type
  if (n < 0 || n % traits->block_size != 0) {
    throw std::invalid_argument("row of " + std::to_string(n) + " weights is not a multiple of " +
                                std::to_string(traits->block_size) + " (block size of " +
                                std::string(traits->name) + ")");
  }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  check_length(type, n);
  using namespace detail;
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case TensorType::Q4_0:
      return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case TensorType::Q4_1:
      return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
    case TensorType::Q5_0:
      return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case TensorType::Q5_1:
      return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
    case TensorType::Q8_0:
      return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case TensorType::Q8_1:
      return dequantize_q8_1(static_cast<const BlockQ8_1*>(src), dst, n);
    case TensorType::Q2_K:
      return dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n);
    case TensorType::Q3_K:
      return dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n);
    case TensorType::Q4_K:
      return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
    case TensorType::Q5_K:
      return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
    case TensorType::Q6_K:
      return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
    case TensorType::Q8_K:
      return dequantize_q8_k(static_cast<const BlockQ8_K*>(src), dst, n);
  }
  unsupported("dequantize_row", type);
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  check_length(type, n);
  using namespace detail;
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return;
    }
    case TensorType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return;
    }
    case TensorType::Q4_0:
      return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case TensorType::Q4_1:
      return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
    case TensorType::Q5_0:
      return quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
    case TensorType::Q5_1:
      return quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
    case TensorType::Q8_0:
      return quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case TensorType::Q8_1:
      return quantize_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
    case TensorType::Q2_K:
      return quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), n);
    case TensorType::Q3_K:
      return quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), n);
    case TensorType::Q4_K:
      return quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n);
    case TensorType::Q5_K:
      return quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n);
    case TensorType::Q6_K:
      return quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n);
    case TensorType::Q8_K:
      return quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), n);
  }
  unsupported("quantize_row", type);
}

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K:
      return true;
  }
  return false;
}

}  // namespace hearth::quant
