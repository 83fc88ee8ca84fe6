// The activation buffers a forward pass works in (internal to src/model).
#pragma once

#include <cstdint>
#include <memory>

#include "backend/backend.h"

namespace hearth::model {

class Scratch {
 public:
  int64_t max_tokens = 0;
  int64_t max_logit_rows = 0;
  // Backend buffers, [max_tokens][width]:
  std::unique_ptr<backend::Buffer> x;       // residual stream, n_embd
  std::unique_ptr<backend::Buffer> xn;      // normed input of a block, n_embd
  std::unique_ptr<backend::Buffer> xn2;     // falcon 40B's second norm, n_embd
  std::unique_ptr<backend::Buffer> q;       // n_head * head_dim
  std::unique_ptr<backend::Buffer> k, v;    // n_head_kv * head_dim
  std::unique_ptr<backend::Buffer> qkv;     // falcon's fused projection
  std::unique_ptr<backend::Buffer> att;     // attention output, n_head * head_dim
  std::unique_ptr<backend::Buffer> proj;    // block output before the residual add, n_embd
  std::unique_ptr<backend::Buffer> gate;    // n_ff
  std::unique_ptr<backend::Buffer> up;      // n_ff
  std::unique_ptr<backend::Buffer> logits;  // [max_logit_rows][n_vocab]
};

}  // namespace hearth::model
