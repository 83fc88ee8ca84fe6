#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace hearth::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<TokenProb> top_probs(std::span<const float> logits, int n) {
  if (logits.empty() || n <= 0) return {};
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  const size_t k = std::min(static_cast<size_t>(n), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<TokenProb> out(k);
  for (size_t i = 0; i < k; ++i)
    out[i] = {ids[i],
              static_cast<float>(std::exp(static_cast<double>(logits[ids[i]] - max)) / sum)};
  return out;
}

GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok,
                        std::span<const int32_t> prompt, const GenerateOptions& o,
                        const TextCallback& on_text) {
  GenerateResult r;
  const int64_t evaluated_before = session.n_evaluated();
  auto t0 = std::chrono::steady_clock::now();
  std::span<const float> logits = session.eval_prefix_cached(prompt);
  r.timings.prompt_s = seconds_since(t0);
  // What was evaluated: the part of the prompt beyond the reused prefix.
  r.timings.prompt_tokens = session.n_evaluated() - evaluated_before;
  sampling::Sampler sampler(o.sampler);
  for (int32_t t : prompt) sampler.accept(t);
  sampling::StopStrings stops(o.stop);
  tokenizer::StreamDecoder decoder(tok);
  std::vector<float> work(logits.size());  // the sampler modifies its logits
  bool stopped = false;
  r.done_reason = "length";

  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    r.text += text;
    return on_text ? on_text(text) : true;
  };

  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; o.max_tokens < 0 || i < o.max_tokens; ++i) {
    if (o.n_probs > 0) r.top.push_back(top_probs(logits, o.n_probs));
    std::copy(logits.begin(), logits.end(), work.begin());
    const int32_t id = sampler.sample(work);
    sampler.accept(id);
    if (tok.is_eog(id)) {
      r.done_reason = "stop";
      break;
    }
    r.tokens.push_back(id);
    const auto s = stops.push(decoder.push(id));
    if (!emit(s.emit) || s.stopped) {
      r.done_reason = "stop";
      stopped = true;
      break;
    }
    const bool limit = o.max_tokens >= 0 && i + 1 >= o.max_tokens;
    if (limit) break;
    if (session.n_past() >= session.n_ctx()) break;  // "length": the context is full
    logits = session.eval(std::span(&id, 1));
    ++r.timings.gen_tokens;
  }
  r.timings.gen_s = seconds_since(t0);
  if (!stopped) {
    // Text held back by the decoder (a partial character) or by a stop string
    // that never completed belongs to the output.
    const auto s = stops.push(decoder.flush());
    emit(s.emit);
    emit(stops.flush());
  }
  return r;
}

}  // namespace hearth::engine
