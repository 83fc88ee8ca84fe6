// Architecture hyper-parameters read from GGUF metadata (`ARCH.*` keys).
#pragma once

#include <cstdint>
#include <string>

#include "gguf/reader.h"
#include "kernels/backend.h"

namespace hearth::model {

enum class Arch { Llama, Qwen2, Falcon };

struct Hparams {
  Arch arch = Arch::Llama;
  std::string arch_name;  // general.architecture as written
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;  // context the model was trained with
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // n_embd / n_head unless attention.key_length says otherwise
  float norm_eps = 1e-5f;  // RMSNorm eps (llama, qwen2) or LayerNorm eps (falcon)
  kernels::RopeParams rope;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Throws gguf::GgufError naming the file and key for an unsupported architecture or
// missing/inconsistent values. n_vocab comes from token_embd when the key is absent.
Hparams read_hparams(const gguf::GgufFile& file);

}  // namespace hearth::model
