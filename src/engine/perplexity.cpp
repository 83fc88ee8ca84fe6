#include "engine/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/session.h"

namespace hearth::engine {
namespace {

// -log softmax(logits)[target], the sum of exponentials in double.
double nll_of(const float* logits, int64_t n, int32_t target) {
  float max = logits[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(logits[i] - max);
  return std::log(sum) - static_cast<double>(logits[target] - max);
}

}  // namespace

PerplexityResult perplexity(const model::Model& model, std::span<const int32_t> tokens, int32_t bos,
                            int64_t n_ctx, backend::KvType kv_type,
                            const std::function<void(const PerplexityWindow&)>& on_window) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n_ctx < 4)
    throw std::invalid_argument("perplexity: a context of at least 4 tokens is needed");
  if (n < 2 * n_ctx)
    throw std::invalid_argument(
        "perplexity: the text has " + std::to_string(n) + " tokens; a context of " +
        std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx) + " (two windows)" +
        (n >= 8 ? "; a context of at most " + std::to_string(n / 2) + " fits this text" : ""));
  const auto t0 = std::chrono::steady_clock::now();
  PerplexityResult r;
  r.n_tokens = n;
  r.n_ctx = n_ctx;
  // The whole window goes through each layer as one batch.
  Session session(model,
                  {.n_ctx = n_ctx, .n_batch = n_ctx, .kv_type = kv_type, .all_logits = true});
  const int64_t first = n_ctx / 2, V = model.hparams().n_vocab;
  std::vector<int32_t> window(static_cast<size_t>(n_ctx));
  std::vector<float> logits;
  double total = 0;
  for (int64_t w = 0; w < n / n_ctx; ++w) {
    const int64_t start = w * n_ctx;
    std::copy_n(tokens.begin() + start, n_ctx, window.begin());
    if (bos >= 0) window[0] = bos;
    session.clear();
    // Logits of positions first .. n_ctx-2 predict tokens first+1 .. n_ctx-1.
    session.eval_all(std::span(window).first(static_cast<size_t>(n_ctx - 1)), first, logits);
    PerplexityWindow pw;
    pw.index = w;
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const int32_t target = tokens[static_cast<size_t>(start + j + 1)];
      if (target < 0 || target >= V)
        throw std::invalid_argument("perplexity: token id " + std::to_string(target) +
                                    " outside the vocabulary");
      pw.nll += nll_of(logits.data() + (j - first) * V, V, target);
      ++pw.scored;
    }
    pw.ppl = std::exp(pw.nll / static_cast<double>(pw.scored));
    total += pw.nll;
    r.n_scored += pw.scored;
    pw.running_ppl = std::exp(total / static_cast<double>(r.n_scored));
    r.windows.push_back(pw);
    if (on_window) on_window(pw);
  }
  r.ppl = std::exp(total / static_cast<double>(r.n_scored));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hearth::engine
