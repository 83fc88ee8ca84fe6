#include "engine/session.h"

#include <algorithm>
#include <string>

namespace hearth::engine {

Session::Session(const model::Model& model, const SessionOptions& o) : model_(model) {
  const int64_t train = model.hparams().n_ctx_train;
  n_ctx_ = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(train > 0 ? train : 4096, 4096);
  n_batch_ = std::clamp<int64_t>(o.n_batch, 1, n_ctx_);
  all_logits_ = o.all_logits;
  cache_ = model.make_kv_cache(n_ctx_, o.kv_type);
  last_logits_.resize(static_cast<size_t>(model.hparams().n_vocab));
}

model::Scratch& Session::scratch() {
  // Logit rows: a whole batch for eval_all (perplexity), else only the last token's.
  if (!scratch_) scratch_ = model_.make_scratch(n_batch_, all_logits_ ? n_batch_ : 1);
  return *scratch_;
}

Session::~Session() = default;

uint64_t Session::kv_bytes() const { return cache_->bytes(); }

void Session::check_fits(int64_t n_new) const {
  if (n_past() + n_new > n_ctx_)
    throw ContextError("the sequence needs " + std::to_string(n_past() + n_new) +
                       " tokens but the context holds " + std::to_string(n_ctx_) +
                       " (raise --ctx / num_ctx, or shorten the prompt)");
}

std::span<const float> Session::eval(std::span<const int32_t> tokens) {
  if (tokens.empty()) throw std::invalid_argument("eval: no tokens");
  check_fits(static_cast<int64_t>(tokens.size()));
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int64_t b = 0; b < n; b += n_batch_) {
    const int64_t m = std::min(n_batch_, n - b);
    const bool last = b + m == n;
    model_.forward(tokens.data() + b, m, n_past(), *cache_, scratch(), last ? m - 1 : m,
                   last_logits_.data());
    tokens_.insert(tokens_.end(), tokens.begin() + b, tokens.begin() + b + m);
    n_evaluated_ += m;
  }
  return last_logits_;
}

void Session::eval_all(std::span<const int32_t> tokens, int64_t from, std::vector<float>& logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0 || from < 0 || from >= n) throw std::invalid_argument("eval_all: bad range");
  if (!all_logits_ && std::min(n_batch_, n - from) > 1)
    throw std::logic_error("eval_all on a session made without all_logits");
  check_fits(n);
  const int64_t V = n_vocab();
  logits.resize(static_cast<size_t>((n - from) * V));
  for (int64_t b = 0; b < n; b += n_batch_) {
    const int64_t m = std::min(n_batch_, n - b);
    const int64_t first = std::clamp<int64_t>(from - b, 0, m);  // rows of this batch wanted
    float* dst = first < m ? logits.data() + (b + first - from) * V : nullptr;
    model_.forward(tokens.data() + b, m, n_past(), *cache_, scratch(), first, dst);
    tokens_.insert(tokens_.end(), tokens.begin() + b, tokens.begin() + b + m);
    n_evaluated_ += m;
  }
}

std::span<const float> Session::eval_prefix_cached(std::span<const int32_t> tokens) {
  if (tokens.empty()) throw std::invalid_argument("eval: no tokens");
  size_t common = 0;
  while (common < tokens_.size() && common < tokens.size() && tokens_[common] == tokens[common])
    ++common;
  // At least one token must be evaluated to produce logits.
  if (common == tokens.size()) --common;
  if (static_cast<int64_t>(tokens.size()) > n_ctx_)
    throw ContextError("the prompt has " + std::to_string(tokens.size()) +
                       " tokens but the context holds " + std::to_string(n_ctx_) +
                       " (raise --ctx / num_ctx, or shorten the prompt)");
  truncate(static_cast<int64_t>(common));
  return eval(tokens.subspan(common));
}

void Session::truncate(int64_t n) {
  if (n < n_past()) tokens_.resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
}

}  // namespace hearth::engine
