// Which type each tensor of a model gets for a target file type, following
// llama.cpp's llama-quantize (no importance matrix, no overrides): the
// target's default type, bumped for attn_v / ffn_down / output in the K mixes,
// then a fallback type where a row is not a multiple of the block size.
// 1-D tensors are never quantized; hearth stores them as f32.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/types.h"

namespace hearth::quant {

struct FileType {
  std::string_view name;  // "q4_k_m": what users type (lower case)
  uint32_t llama_ftype;   // general.file_type: llama.cpp's LLAMA_FTYPE_* value
  gguf::TensorType base;  // the default tensor type
  std::string_view description;
};

// The targets hearth writes, in the order `hearth quantize` lists them.
const std::vector<FileType>& file_types();
// Case-insensitive; accepts llama.cpp's aliases "q4_k" (q4_k_m) and "q5_k" (q5_k_m).
std::optional<FileType> find_file_type(std::string_view name);

// What type selection needs to know about the model.
struct ModelShape {
  std::string arch;   // general.architecture
  int n_layer = 0;    // ARCH.block_count
  int n_expert = 0;   // ARCH.expert_count
  int n_head = 0;     // ARCH.attention.head_count
  int n_head_kv = 0;  // ARCH.attention.head_count_kv
};

struct TensorShape {
  std::string name;
  gguf::TensorType type;  // as stored in the input
  uint32_t n_dims;
  uint64_t ne0;  // row length (fastest-varying dimension)
};

// llama.cpp's processing order: tensors outside blocks first, then block by
// block, by name within each; the order the layer counters of the mixes
// count in. Returns indices into `tensors`.
std::vector<size_t> llama_tensor_order(const std::vector<TensorShape>& tensors);

// The output type of every tensor (same indexing as `tensors`). Throws
// std::runtime_error when a tensor's rows fit no type (not a multiple of 32
// for a quantized target falls back to f16 as llama.cpp does).
std::vector<gguf::TensorType> choose_tensor_types(const FileType& target, const ModelShape& model,
                                                  const std::vector<TensorShape>& tensors);

}  // namespace hearth::quant
