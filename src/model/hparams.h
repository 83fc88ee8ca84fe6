// Architecture hyper-parameters read from GGUF metadata (`ARCH.*` keys): the
// one reader of those keys. `show` prints them, quantization picks tensor types
// with them, the model runs with them.
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "quant/mix.h"

namespace hearth::model {

// What a file's ARCH.* keys say, for any architecture and without judging it:
// 0 where the file is silent. Throws gguf::GgufError when a key holds the wrong
// kind of value.
struct ArchFacts {
  std::string arch;         // general.architecture ("" when absent)
  int64_t n_ctx_train = 0;  // context_length
  int64_t n_embd = 0;       // embedding_length
  int64_t n_layer = 0;      // block_count, else 1 + the highest blk.N of the tensor table
  int64_t n_ff = 0;         // feed_forward_length
  int64_t n_head = 0;       // attention.head_count
  int64_t n_head_kv = 0;    // attention.head_count_kv, else n_head
  int64_t head_dim = 0;     // attention.key_length, else n_embd / n_head
  int64_t n_expert = 0;     // expert_count
  int64_t n_vocab = 0;      // vocab_size, else token_embd's rows, else the token list's length
  double rope_freq_base = 0;
};
ArchFacts read_arch_facts(const gguf::GgufFile& file);

enum class Arch { Llama, Qwen2, Falcon };

// The hyper-parameters of an architecture hearth runs, validated, with the
// defaults llama.cpp assumes where the file is silent.
struct Hparams {
  Arch arch = Arch::Llama;
  std::string arch_name;  // general.architecture as written
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;  // context the model was trained with (2048 when not stated)
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // n_embd / n_head unless attention.key_length says otherwise
  float norm_eps = 1e-5f;  // RMSNorm eps (llama, qwen2) or LayerNorm eps (falcon)
  backend::RopeParams rope;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Throws gguf::GgufError naming the file and key for an unsupported architecture or
// missing/inconsistent values. n_vocab comes from token_embd when the key is absent.
Hparams read_hparams(const gguf::GgufFile& file);

// What llama-quantize's type mixes need to know of a model (quant sits below
// model, so its callers read this here and pass it in).
quant::ModelShape mix_shape(const ArchFacts& facts);
quant::ModelShape mix_shape(const gguf::GgufFile& file);  // mix_shape(read_arch_facts(file))

}  // namespace hearth::model
