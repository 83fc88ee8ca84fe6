// What a GGUF model is, read from its metadata and tensor table: the facts
// `hearth show` prints and a server's model listing reports, and an estimate
// of the memory a model needs at a given context length.
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

  // Hyperparameters (ARCH.*); 0 when the file does not say.
  uint64_t context_length = 0;
  uint64_t embedding_length = 0;
  uint64_t block_count = 0;
  uint64_t feed_forward_length = 0;
  uint64_t head_count = 0;
  uint64_t head_count_kv = 0;  // head_count when the file does not say
  uint64_t head_dim = 0;       // ARCH.attention.key_length, else embedding / heads
  uint64_t vocab_size = 0;     // ARCH.vocab_size, else the token list's length
  double rope_freq_base = 0;

  std::string quantization;                     // "F16", "Q4_K_M", ...: general.file_type, else
                                                // the type holding the most weight bytes
  std::map<std::string, uint64_t> type_counts;  // "f16" -> number of tensors of that type

  std::string tokenizer_model;  // tokenizer.ggml.model: "llama", "gpt2", ...
  std::optional<int64_t> bos_id, eos_id;
  bool has_chat_template = false;
};

// Throws GgufError when a known key has the wrong kind of value.
ModelInfo describe_model(const GgufFile& file);

// Memory to run the model at `context` tokens, in bytes.
struct MemoryEstimate {
  uint64_t context = 0;
  uint64_t batch = 0;     // tokens per evaluation step the compute estimate assumes
  uint64_t weights = 0;   // tensor data (memory-mapped)
  uint64_t kv_cache = 0;  // f16 K and V: 2 * layers * context * kv_heads * head_dim * 2
  uint64_t compute = 0;   // activations and logits of one step (an estimate)
  uint64_t total() const { return weights + kv_cache + compute; }
};

// The batch is min(context, 512); the compute estimate counts, in f32, the
// residual stream and its normalized copy, Q/K/V/attention output, the
// attention scores of every head against the whole context, the three FFN
// activations, and the logits of every token of the batch.
MemoryEstimate estimate_memory(const ModelInfo& info, uint64_t context);

// llama.cpp's name for a general.file_type id ("Q4_K_M"); nullopt when unknown.
std::optional<std::string> file_type_name(uint64_t id);

}  // namespace hearth::gguf
