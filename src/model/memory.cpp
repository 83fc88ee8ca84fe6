#include "model/memory.h"

#include <stdexcept>
#include <string>

#include "gguf/types.h"

namespace hearth::model {

MemoryEstimate estimate_memory(const Hparams& h, uint64_t weights_bytes, int64_t n_ctx,
                               int64_t n_parallel, int64_t n_batch, backend::KvType kv_type) {
  if (n_ctx <= 0 || n_parallel <= 0 || n_batch <= 0)
    throw std::invalid_argument("memory estimate: context " + std::to_string(n_ctx) +
                                ", parallel " + std::to_string(n_parallel) + ", batch " +
                                std::to_string(n_batch) + " (each must be positive)");
  MemoryEstimate e;
  e.context = n_ctx;
  e.parallel = n_parallel;
  e.batch = n_batch;
  e.weights = weights_bytes;
  // The row size the CPU KV cache allocates (kernels/cpu_backend_kv.h).
  const uint64_t row = gguf::row_bytes(
      kv_type == backend::KvType::F16 ? gguf::TensorType::F16 : gguf::TensorType::Q8_0,
      static_cast<uint64_t>(h.kv_dim()));
  e.kv_cache = static_cast<uint64_t>(n_parallel) * 2 * static_cast<uint64_t>(h.n_layer) *
               static_cast<uint64_t>(n_ctx) * row;
  const int64_t per_token = 2 * h.n_embd                              // residual, normalized copy
                            + h.q_dim() + 2 * h.kv_dim() + h.q_dim()  // Q, K, V, attention output
                            + h.n_head * n_ctx                        // scores against the context
                            + 3 * h.n_ff                              // gate, up, gated product
                            + h.n_vocab;                              // logits
  e.compute = 4 * static_cast<uint64_t>(n_batch) * static_cast<uint64_t>(per_token);
  return e;
}

}  // namespace hearth::model
