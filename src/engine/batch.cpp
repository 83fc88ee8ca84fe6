#include "engine/batch.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hearth::engine {

BatchEvaluator::BatchEvaluator(const model::Model& model, int64_t max_tokens, int64_t max_seqs)
    : model_(model),
      max_tokens_(max_tokens),
      max_seqs_(max_seqs),
      scratch_(model.make_scratch(max_tokens, max_seqs)) {}

BatchEvaluator::~BatchEvaluator() = default;

void BatchEvaluator::eval(std::span<const BatchItem> items) {
  int64_t n = 0, n_logits = 0;
  std::vector<model::SeqChunk> chunks;
  chunks.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& it = items[i];
    const std::string which = "batch item " + std::to_string(i) + ": ";
    if (!it.session || it.tokens.empty())
      throw std::invalid_argument(which + (it.session ? "no tokens" : "no session"));
    Session& s = *it.session;
    if (&s.model() != &model_) throw std::invalid_argument(which + "a session of another model");
    for (size_t j = 0; j < i; ++j)
      if (items[j].session == it.session)
        throw std::invalid_argument(which + "the same session as item " + std::to_string(j));
    s.check_fits(static_cast<int64_t>(it.tokens.size()));
    n += static_cast<int64_t>(it.tokens.size());
    n_logits += it.logits ? 1 : 0;
    chunks.push_back({.tokens = it.tokens.data(),
                      .n_tokens = static_cast<int64_t>(it.tokens.size()),
                      .pos0 = s.n_past(),
                      .cache = s.cache_.get(),
                      .logits = it.logits ? s.last_logits_.data() : nullptr,
                      .n_logits = 1});
  }
  if (n > max_tokens_ || n_logits > max_seqs_)
    throw std::invalid_argument("batch: " + std::to_string(n) + " tokens and " +
                                std::to_string(n_logits) + " sequences with logits exceed " +
                                std::to_string(max_tokens_) + " tokens and " +
                                std::to_string(max_seqs_) + " sequences");
  if (chunks.empty()) return;
  model_.forward_batch(chunks, *scratch_);
  for (const BatchItem& it : items) {
    Session& s = *it.session;
    s.tokens_.insert(s.tokens_.end(), it.tokens.begin(), it.tokens.end());
    s.n_evaluated_ += static_cast<int64_t>(it.tokens.size());
  }
}

}  // namespace hearth::engine
