// Shared by the kernels' tests: the weight types they cover, every type the
// CPU backend multiplies (test code only).
#pragma once

#include "gguf/types.h"

namespace hearth::kernels::test {

inline constexpr gguf::TensorType kTypes[] = {
    gguf::TensorType::F32,  gguf::TensorType::F16,  gguf::TensorType::BF16, gguf::TensorType::Q8_0,
    gguf::TensorType::Q4_0, gguf::TensorType::Q4_1, gguf::TensorType::Q5_0, gguf::TensorType::Q5_1,
    gguf::TensorType::Q4_K, gguf::TensorType::Q5_K, gguf::TensorType::Q6_K};

}  // namespace hearth::kernels::test
