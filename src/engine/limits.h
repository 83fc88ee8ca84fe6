// The ranges of the numbers a user passes to the engine (CLI flags, API
// options) that the engine owns: the context size and the number of tokens to
// predict. Sampling's own numbers are checked by sampling::validate(); the
// thread count by threads::resolve_thread_count(). Each check throws
// sampling::ParamError named by the Ollama option ("num_ctx", "num_predict").
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "model/hparams.h"
#include "sampling/param_error.h"

namespace hearth::engine {

using sampling::ParamError;

// The smallest context a session may have: room for a chat template's
// scaffolding (BOS, role markers) and a few tokens of answer; anything smaller
// is a typo (`--ctx 0`, `--ctx 1`), not a useful setting.
inline constexpr int64_t kMinContext = 16;
// How far past its training context a model may run. RoPE models degrade
// beyond it, but stretching 2-4x (with rope scaling) is a known practice.
inline constexpr int64_t kMaxContextFactor = 4;
// The context when a model does not say its training context, and the cap
// whatever it says: 2^24 tokens keeps every size computed from it far from
// overflowing (x layers x kv_dim x 2 bytes).
inline constexpr int64_t kDefaultTrainContext = 4096;
inline constexpr int64_t kMaxContext = int64_t{1} << 24;

// num_predict: -2 (until the context is full), -1 (no limit: until an end
// token or the context is full), 0 or more tokens.
void validate_num_predict(int64_t num_predict);

// The largest context the model allows: kMaxContextFactor x its training
// context (kDefaultTrainContext when it has none), at most kMaxContext.
int64_t max_context(const model::Hparams& hp);

// Bytes of the KV cache of n_ctx positions: K and V of every layer.
uint64_t kv_cache_bytes(const model::Hparams& hp, int64_t n_ctx, backend::KvType kv);

// Memory this process may still allocate: MemAvailable, or less when a cgroup
// limit is nearer. 0 when unknown (no check then).
uint64_t available_memory();

// `bytes` for a message or a table: "1.50 GiB" (`decimals` after the point).
std::string format_gib(uint64_t bytes, int decimals = 2);

// Checks n_ctx for a session of this model: in [kMinContext, max_context(hp)],
// and its KV cache (plus extra_bytes_per_token x n_ctx: e.g. the logits of
// every position that perplexity keeps) within available_memory(), so that a
// large value is an error message rather than std::bad_alloc or the OOM killer.
void validate_context(const model::Hparams& hp, int64_t n_ctx,
                      backend::KvType kv = backend::KvType::F16,
                      uint64_t extra_bytes_per_token = 0);

// The range check alone, for what only describes a model (`hearth show
// --ctx`): n_ctx in [kMinContext, kMaxContext].
void validate_context_range(int64_t n_ctx);

}  // namespace hearth::engine
