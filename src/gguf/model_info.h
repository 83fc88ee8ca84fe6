// What a GGUF file is, read from its general metadata and tensor table: the
// file-level facts `hearth show` prints and a server's model listing reports.
// Architecture hyper-parameters (ARCH.* keys) are model::read_arch_facts's, the
// memory estimate model::estimate_memory's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "gguf/reader.h"

namespace hearth::gguf {

struct ModelInfo {
  std::string path;
  uint64_t file_size = 0;      // bytes
  std::string architecture;    // general.architecture ("" when absent)
  std::string name;            // general.name ("" when absent)
  uint64_t n_params = 0;       // sum of every tensor's element count
  uint64_t weights_bytes = 0;  // sum of every tensor's byte size

  std::string quantization;                     // "F16", "Q4_K_M", ...: general.file_type, else
                                                // the type holding the most weight bytes
  std::map<std::string, uint64_t> type_counts;  // "f16" -> number of tensors of that type

  std::string tokenizer_model;  // tokenizer.ggml.model: "llama", "gpt2", ...
  std::optional<int64_t> bos_id, eos_id;
  bool has_chat_template = false;
};

// Throws GgufError when a known key has the wrong kind of value.
ModelInfo describe_model(const GgufFile& file);

// llama.cpp's name for a general.file_type id ("Q4_K_M"); nullopt when unknown.
std::optional<std::string> file_type_name(uint64_t id);

}  // namespace hearth::gguf
