// Perplexity as llama.cpp's llama-perplexity computes it, so the figures compare:
// the whole text tokenized with BOS, cut into non-overlapping windows of n_ctx
// tokens, BOS in place of each window's first token, and in each window the
// positions n_ctx/2 .. n_ctx-2 scored on predicting the next token.
// PPL = exp(mean negative log-likelihood).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace hearth::engine {

struct PerplexityWindow {
  int64_t index = 0;
  int64_t scored = 0;      // tokens scored in this window
  double nll = 0;          // their summed negative log-likelihood (nats)
  double ppl = 0;          // exp(nll / scored): this window alone
  double running_ppl = 0;  // over all windows so far
};

struct PerplexityResult {
  double ppl = 0;
  int64_t n_tokens = 0;  // tokens of the text (BOS included)
  int64_t n_ctx = 0;
  int64_t n_scored = 0;
  double seconds = 0;
  std::vector<PerplexityWindow> windows;
};

// `tokens` is the tokenized text (BOS first when the model adds one); `bos` the
// id that replaces each window's first token (-1: leave it). Throws
// std::invalid_argument when the text has fewer than 2 * n_ctx tokens.
PerplexityResult perplexity(const model::Model& model, std::span<const int32_t> tokens, int32_t bos,
                            int64_t n_ctx, backend::KvType kv_type = backend::KvType::F16,
                            const std::function<void(const PerplexityWindow&)>& on_window = {});

}  // namespace hearth::engine
