// Activations in the format a weight type is multiplied with (llama.cpp's
// vec_dot_type): Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the
// K types, F16 for F16 (as llama.cpp rounds activations to half for f16
// weights), BF16 for BF16 and F32 for F32. Internal to kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/types.h"
#include "kernels/cpu_features.h"

namespace hearth::kernels {

gguf::TensorType activation_type(gguf::TensorType weight);
// Bytes of one row of n activations in `act` (n a multiple of its block size).
size_t activation_row_bytes(gguf::TensorType act, int64_t n);

// x: [n] f32 -> dst: activation_row_bytes(act, n). Bit-exact across levels:
// round to nearest even, scale 127 / max|x| per block (Q8_0/Q8_1), -127 / x
// at max |x| per super-block (Q8_K), exactly as llama.cpp's x86 code.
void quantize_activations(gguf::TensorType act, const float* x, void* dst, int64_t n,
                          SimdLevel level);

namespace detail {
void quantize_q8_0_scalar(const float* x, void* dst, int64_t n);
void quantize_q8_1_scalar(const float* x, void* dst, int64_t n);
void quantize_q8_0_avx512(const float* x, void* dst, int64_t n);
void quantize_q8_1_avx512(const float* x, void* dst, int64_t n);
void quantize_q8_k_avx512(const float* x, void* dst, int64_t n);
void quantize_q8_0_avx2(const float* x, void* dst, int64_t n);
void quantize_q8_1_avx2(const float* x, void* dst, int64_t n);
void quantize_q8_k_avx2(const float* x, void* dst, int64_t n);
}  // namespace detail

}  // namespace hearth::kernels
