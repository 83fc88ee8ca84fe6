// A Session is one sequence being evaluated by a Model: its KV cache, the
// tokens in it, and the scratch buffers of its own forward passes (allocated on
// the first eval; a session evaluated only through a BatchEvaluator has none).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace hearth::engine {

// A sequence that does not fit the context: the message gives the numbers.
class ContextError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SessionOptions {
  int64_t n_ctx = 0;      // <= 0: the model's training context, at most 4096
  int64_t n_batch = 512;  // prompt tokens per forward pass (one matrix through every layer)
  backend::KvType kv_type = backend::KvType::F16;
  bool all_logits = false;  // eval_all() wanted: room for a whole batch of logits
};

class Session {
 public:
  Session(const model::Model& model, const SessionOptions& options);
  ~Session();

  const model::Model& model() const { return model_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t n_vocab() const { return model_.hparams().n_vocab; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  uint64_t kv_bytes() const;
  int64_t n_evaluated() const { return n_evaluated_; }  // tokens run through the model so far
  // The logits after the last token evaluated by eval, eval_prefix_cached or a
  // BatchEvaluator ([n_vocab]; zeros before any).
  std::span<const float> logits() const { return last_logits_; }

  // Appends `tokens` (in batches of n_batch) and returns the logits after the last
  // one ([n_vocab], valid until the next call). Throws ContextError when they do not fit.
  std::span<const float> eval(std::span<const int32_t> tokens);
  // Appends `tokens` and writes the logits after each of tokens[from..] to
  // `logits` ([tokens.size() - from][n_vocab], resized). Needs options.all_logits.
  void eval_all(std::span<const int32_t> tokens, int64_t from, std::vector<float>& logits);
  // Makes the sequence equal `tokens` re-using the longest common prefix already
  // in the cache (chat turns), and returns the logits after the last token.
  std::span<const float> eval_prefix_cached(std::span<const int32_t> tokens);

  void clear() { tokens_.clear(); }
  void truncate(int64_t n_past);  // keeps the first n_past tokens

 private:
  friend class BatchEvaluator;  // evaluates the session in a shared pass: cache_, tokens_
  void check_fits(int64_t n_new) const;
  model::Scratch& scratch();

  const model::Model& model_;
  int64_t n_ctx_ = 0;
  int64_t n_batch_ = 0;
  bool all_logits_ = false;
  std::unique_ptr<backend::KvCache> cache_;
  model::ScratchPtr scratch_;  // allocated by the first eval
  std::vector<int32_t> tokens_;
  std::vector<float> last_logits_;
  int64_t n_evaluated_ = 0;
};

}  // namespace hearth::engine
