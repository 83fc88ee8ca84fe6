// Requantizes a whole model file, choosing each tensor's type as llama.cpp's
// llama-quantize does for the same target (mixes such as q4_k_m included).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gguf/reader.h"
#include "quant/mix.h"
#include "threads/thread_pool.h"

namespace hearth::quant {

struct QuantizeOptions {
  std::string type;       // "f32", "f16", "bf16", "q8_0", ..., "q4_k_m", "q5_k_m"
  bool progress = false;  // a progress line on stderr
  bool force = false;     // replace an existing output file (never the input itself)
  // Convert tensors that are already quantized (q4_0 -> q8_0): their rounding
  // stays and a second is added, so it is refused unless asked for, as
  // llama-quantize refuses it without --allow-requantize.
  bool allow_requantize = false;
};

struct QuantizeSummary {
  uint64_t bytes_before = 0;  // tensor data only
  uint64_t bytes_after = 0;
  uint64_t n_params = 0;
  double bpw_before = 0;  // bits per weight
  double bpw_after = 0;
};

// The first tensor of `in` that converting it to `type` (a known file type)
// would quantize a second time: a tensor already quantized whose type the
// mix changes. What QuantizeOptions::allow_requantize allows.
struct Requantized {
  std::string tensor;
  gguf::TensorType type;
};
std::optional<Requantized> find_requantized(const gguf::GgufFile& in, const ModelShape& model,
                                            const FileType& type);

// `model` is what the type mixes need to know of the input (model::mix_shape
// reads it: ARCH.* keys are the model module's to read). Converts the tensors
// on `pool` and writes the output through fs::AtomicFile: refused
// (fs::FileError, before any work) when it exists and !force, when it is the
// input file (by any name), or when it is not a regular file. Throws
// std::runtime_error (unknown type, unreadable input, unwritable output);
// leaves no temporary file behind.
QuantizeSummary quantize_model(const std::string& in_path, const ModelShape& model,
                               const std::string& out_path, const QuantizeOptions& options,
                               threads::ThreadPool& pool);

}  // namespace hearth::quant
