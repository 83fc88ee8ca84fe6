// Text embeddings: a sequence's final hidden states (model.h's SeqChunk::hidden)
// pooled into one vector and L2-normalised, as Ollama's /api/embed gives them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime.h"

namespace hearth::engine {

// How one sequence's hidden states become one vector.
enum class Pooling {
  Mean,  // the mean over every token (BOS and EOS included)
  Cls,   // the first token's
  Last,  // the last token's
};

// The model's pooling: GGUF `ARCH.pooling_type` (llama.cpp's numbers: 1 mean,
// 2 cls, 3 last); absent or 0 (none: a decoder model) -> Mean. Throws
// std::invalid_argument naming the file and the value for 4 (rank: a
// reranker, which has no embeddings) and for unknown values.
Pooling model_pooling(const model::Model& model);

// The text's tokens for embedding: BOS (and EOS) as the vocabulary adds them,
// special-token syntax not parsed (user text).
std::vector<int32_t> tokenize_for_embedding(const Runtime& rt, const std::string& text);

// Fits an input to a context of n_ctx tokens: truncate keeps its first n_ctx
// tokens (as Ollama does); else a longer input throws ContextError "the input
// length exceeds the context length" (with the numbers).
void fit_embedding_input(std::vector<int32_t>& tokens, int64_t n_ctx, bool truncate);

// The pooled, L2-normalised embedding of `tokens` ([n_embd]). Runs them
// through the model in passes of at most 512 tokens over a KV cache of their
// own (sized to the input: n_layer x tokens x 2 kv_dim f16 values, freed on
// return), each pass under compute_mutex() so that they interleave with the
// schedulers' passes. Thread-safe. Throws std::invalid_argument when `tokens`
// is empty or holds an id outside the vocabulary.
std::vector<float> embed(const Runtime& rt, std::span<const int32_t> tokens, Pooling pooling);

// Scales v to unit L2 norm (a zero vector stays zero).
void l2_normalize(std::span<float> v);

}  // namespace hearth::engine
