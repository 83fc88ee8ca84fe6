// Several sessions evaluated in one forward pass (continuous batching): each
// step, a scheduler hands every active sequence's new tokens (one decode token,
// or a chunk of its prompt) to BatchEvaluator::eval, which runs them together
// through Model::forward_batch, so that one read of the weights serves every
// sequence. A sequence's logits are bitwise the same as when its session
// evaluates the same chunks alone (Session::eval with n_batch >= the chunk).
#pragma once

#include <cstdint>
#include <span>

#include "engine/session.h"
#include "model/model.h"

namespace hearth::engine {

// One session's share of a batched step.
struct BatchItem {
  Session* session = nullptr;
  std::span<const int32_t> tokens;  // appended to the session's sequence; >= 1 token
  bool logits = true;  // false: no logits (a prompt chunk that is not the prompt's last)
};

class BatchEvaluator {
 public:
  // Room for max_tokens tokens per step (all items together) and max_seqs items
  // that want logits. Holds one model::Scratch of that size (model.h gives its
  // memory); sessions evaluated only here allocate no scratch of their own.
  BatchEvaluator(const model::Model& model, int64_t max_tokens, int64_t max_seqs);
  ~BatchEvaluator();

  int64_t max_tokens() const { return max_tokens_; }
  int64_t max_seqs() const { return max_seqs_; }

  // Evaluates every item's tokens after its session's current ones in one
  // forward pass, appends them to the session, and leaves the logits after
  // the last one in session->logits() where item.logits. Throws, with no
  // session changed: ContextError when an item does not fit its session's
  // context; std::invalid_argument when the items exceed max_tokens or
  // max_seqs, a session appears twice, has no tokens, or belongs to another model.
  void eval(std::span<const BatchItem> items);

 private:
  const model::Model& model_;
  int64_t max_tokens_, max_seqs_;
  model::ScratchPtr scratch_;
};

}  // namespace hearth::engine
