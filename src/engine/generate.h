// Generation over a Session: evaluate the prompt, then sample one token at a
// time until an end-of-generation token, a stop string, the token limit or the
// end of the context.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session.h"
#include "sampling/sampler.h"
#include "sampling/stop_strings.h"
#include "tokenizer/tokenizer.h"

namespace hearth::engine {

struct GenerateOptions {
  // Tokens to generate at most; < 0: until the context is full (Ollama's num_predict).
  int64_t max_tokens = -1;
  sampling::SamplerParams sampler;
  std::vector<std::string> stop;  // stop strings: generation ends before them
  int n_probs = 0;                // > 0: record the top n_probs tokens of each step
};

struct Timings {
  int64_t prompt_tokens = 0;  // tokens evaluated for the prompt (after prefix reuse)
  double prompt_s = 0;
  int64_t gen_tokens = 0;  // forward passes of generated tokens
  double gen_s = 0;
  double prompt_tokens_per_s() const { return prompt_s > 0 ? prompt_tokens / prompt_s : 0; }
  double gen_tokens_per_s() const { return gen_s > 0 ? gen_tokens / gen_s : 0; }
};

struct TokenProb {
  int32_t id;
  float prob;  // softmax of the raw logits, before sampling
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (an end-of-generation token excluded)
  std::string text;             // what was emitted (stop strings cut off)
  std::string done_reason;      // "stop" (EOG token, stop string, caller) or "length"
  Timings timings;
  std::vector<std::vector<TokenProb>> top;  // per generated position, when n_probs > 0
};

// Called with each piece of text as it becomes final; return false to stop.
using TextCallback = std::function<bool(std::string_view)>;

// `prompt` is the whole sequence the model should continue (the session keeps
// whatever prefix of it is already cached). Throws ContextError when the prompt
// does not fit the context.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});

// The n most probable tokens under softmax(logits), most probable first.
std::vector<TokenProb> top_probs(std::span<const float> logits, int n);

}  // namespace hearth::engine
