// Requantizes a whole model file, choosing each tensor's type as llama.cpp's
// llama-quantize does for the same target (mixes such as q4_k_m included).
#pragma once

#include <cstdint>
#include <string>

#include "quant/mix.h"

namespace hearth::quant {

struct QuantizeOptions {
  std::string type;       // "f32", "f16", "bf16", "q8_0", ..., "q4_k_m", "q5_k_m"
  int threads = 0;        // <= 0: all physical cores
  bool progress = false;  // a progress line on stderr
};

struct QuantizeSummary {
  uint64_t bytes_before = 0;  // tensor data only
  uint64_t bytes_after = 0;
  uint64_t n_params = 0;
  double bpw_before = 0;  // bits per weight
  double bpw_after = 0;
};

// `model` is what the type mixes need to know of the input (model::mix_shape
// reads it: ARCH.* keys are the model module's to read). Throws
// std::runtime_error (unknown type, unreadable input, unwritable output).
QuantizeSummary quantize_model(const std::string& in_path, const ModelShape& model,
                               const std::string& out_path, const QuantizeOptions& options);

}  // namespace hearth::quant
