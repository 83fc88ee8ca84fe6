#include "engine/generate.h"

#include <chrono>

namespace hearth::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok,
                        std::span<const int32_t> prompt, const GenerateOptions& o,
                        const TextCallback& on_text) {
  const int64_t evaluated_before = session.n_evaluated();
  auto t0 = std::chrono::steady_clock::now();
  std::span<const float> logits = session.eval_prefix_cached(prompt);
  const double prompt_s = seconds_since(t0);
  // What was evaluated: the part of the prompt beyond the reused prefix.
  const int64_t prompt_tokens = session.n_evaluated() - evaluated_before;
  Generation g(tok, prompt, o, on_text);
  t0 = std::chrono::steady_clock::now();
  while (auto id = g.step(logits, session.n_past() < session.n_ctx()))
    logits = session.eval(std::span(&*id, 1));
  g.finish();
  auto& r = g.result();
  r.timings.prompt_s = prompt_s;
  r.timings.prompt_tokens = prompt_tokens;
  r.timings.gen_s = seconds_since(t0);
  return std::move(r);
}

}  // namespace hearth::engine
