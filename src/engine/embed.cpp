#include "engine/embed.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

#include "engine/scheduler.h"
#include "engine/session.h"

namespace hearth::engine {
namespace {

constexpr int64_t kMaxPass = 512;  // tokens per forward pass

}  // namespace

Pooling model_pooling(const model::Model& model) {
  const auto& f = model.file();
  const std::string key = model.hparams().arch_name + ".pooling_type";
  const int64_t v = f.get_int(key, 0);
  switch (v) {
    case 0:  // none: a decoder model; Ollama's embeddings of those are mean-pooled
    case 1:
      return Pooling::Mean;
    case 2:
      return Pooling::Cls;
    case 3:
      return Pooling::Last;
    case 4:
      throw std::invalid_argument("model file '" + f.path() + "': " + key +
                                  " is 4 (rank): a reranker gives scores, not embeddings");
    default:
      throw std::invalid_argument("model file '" + f.path() + "': " + key + " is " +
                                  std::to_string(v) + ", not a known pooling (0..4)");
  }
}

std::vector<int32_t> tokenize_for_embedding(const Runtime& rt, const std::string& text) {
  return rt.encode_prompt(text);
}

void fit_embedding_input(std::vector<int32_t>& tokens, int64_t n_ctx, bool truncate) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n <= n_ctx) return;
  if (!truncate)
    throw ContextError("the input length exceeds the context length (" + std::to_string(n) +
                       " tokens, context " + std::to_string(n_ctx) + ")");
  tokens.resize(static_cast<size_t>(std::max<int64_t>(n_ctx, 0)));
}

void l2_normalize(std::span<float> v) {
  double sum = 0;
  for (const float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const double inv = 1.0 / std::sqrt(sum);
  for (float& x : v) x = static_cast<float>(x * inv);
}

std::vector<float> embed(const Runtime& rt, std::span<const int32_t> tokens, Pooling pooling) {
  const model::Model& m = *rt.model;
  const int64_t n = static_cast<int64_t>(tokens.size()), E = m.hparams().n_embd,
                V = m.hparams().n_vocab;
  if (n == 0) throw std::invalid_argument("embed: no tokens");
  for (const int32_t t : tokens)
    if (t < 0 || t >= V)
      throw std::invalid_argument("embed: token " + std::to_string(t) +
                                  " outside the vocabulary of " + std::to_string(V));
  // Mean sums every token's state, Cls and Last one token's (summed in double).
  auto cache = m.make_kv_cache(n, backend::KvType::F16);
  auto scratch = m.make_scratch(std::min(n, kMaxPass), 0);
  std::vector<float> hidden(static_cast<size_t>(std::min(n, kMaxPass) * E));
  std::vector<double> sum(static_cast<size_t>(E), 0.0);
  for (int64_t b = 0; b < n; b += kMaxPass) {
    const int64_t len = std::min(kMaxPass, n - b);
    const model::SeqChunk chunk{.tokens = tokens.data() + b,
                                .n_tokens = len,
                                .pos0 = b,
                                .cache = cache.get(),
                                .hidden = hidden.data()};
    {
      std::lock_guard lock(compute_mutex());
      m.forward_batch(std::span(&chunk, 1), *scratch);
    }
    for (int64_t t = 0; t < len; ++t) {
      const int64_t pos = b + t;
      const bool wanted = pooling == Pooling::Mean || (pooling == Pooling::Cls && pos == 0) ||
                          (pooling == Pooling::Last && pos == n - 1);
      if (!wanted) continue;
      const float* row = hidden.data() + t * E;
      for (int64_t i = 0; i < E; ++i) sum[static_cast<size_t>(i)] += row[i];
    }
  }
  const double scale = pooling == Pooling::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  std::vector<float> out(static_cast<size_t>(E));
  for (int64_t i = 0; i < E; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(sum[static_cast<size_t>(i)] * scale);
  l2_normalize(out);
  return out;
}

}  // namespace hearth::engine
