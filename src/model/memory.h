// The memory a transformer needs to run: what a model manager checks against
// its budget before loading a model.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "model/hparams.h"

namespace hearth::model {

// Bytes, for n_parallel sequences sharing one copy of the weights.
struct MemoryEstimate {
  int64_t context = 0;    // tokens of KV cache per sequence
  int64_t parallel = 0;   // sequences, each with its own KV cache
  int64_t batch = 0;      // tokens per evaluation step the compute estimate assumes
  uint64_t weights = 0;   // tensor data (memory-mapped, counted once)
  uint64_t kv_cache = 0;  // K and V of every layer, position and sequence, as KvType stores them
  uint64_t compute = 0;   // activations and logits of one step (an estimate)
  uint64_t total() const { return weights + kv_cache + compute; }
};

// kv_cache = n_parallel * 2 (K, V) * n_layer * n_ctx * (bytes of a row of kv_dim
// values: f16, or q8_0 blocks). compute counts, in f32 for n_batch tokens: the
// residual stream and its normalized copy, Q/K/V/attention output, every head's
// scores against the whole context, the three FFN activations and the logits.
// Throws std::invalid_argument for a non-positive n_ctx, n_parallel or n_batch.
MemoryEstimate estimate_memory(const Hparams& h, uint64_t weights_bytes, int64_t n_ctx,
                               int64_t n_parallel, int64_t n_batch, backend::KvType kv_type);

}  // namespace hearth::model
