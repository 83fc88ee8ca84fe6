// Row-level conversion between f32 and every tensor type hearth reads or writes.
// Quantization is bit-exact with llama.cpp's reference (no importance matrix),
// so the same tensor quantizes to the same bytes.
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace hearth::quant {

// n must be a multiple of the type's block size. Throws std::invalid_argument
// for a type without a dequantizer.
void dequantize_row(gguf::TensorType type, const void* src, float* dst, int64_t n);
// Throws std::invalid_argument for a type hearth cannot write.
void quantize_row(gguf::TensorType type, const float* src, void* dst, int64_t n);
bool can_quantize(gguf::TensorType type);

}  // namespace hearth::quant
