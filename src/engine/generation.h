// One request's generation, advanced one token at a time by whoever runs the
// model: `generate()` for a lone Session, the Scheduler for many sequences in
// one batched pass. It owns everything per-request that is not the KV cache:
// the sampler, the stop strings, the streaming decoder, the token limit and
// the statistics, so the two drivers cannot disagree on when or how to stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sampling/sampler.h"
#include "sampling/stop_strings.h"
#include "tokenizer/tokenizer.h"

namespace hearth::engine {

// Masks the logits of tokens that would break a format (JSON schema); see
// src/grammar. Generation calls mask() before sampling and accept() after.
class LogitConstraint {
 public:
  virtual ~LogitConstraint() = default;
  virtual void mask(std::span<float> logits) const = 0;  // [n_vocab]; forbidden -> -inf
  virtual void accept(int32_t token) = 0;
  virtual bool complete() const = 0;  // the output so far is a whole document
};

struct GenerateOptions {
  // Tokens to generate at most; < 0: until the context is full (Ollama's num_predict).
  int64_t max_tokens = -1;
  sampling::SamplerParams sampler;
  std::vector<std::string> stop;  // stop strings: generation ends before them
  int n_probs = 0;                // > 0: record the top n_probs tokens of each step
  bool logprobs = false;          // record each sampled token's log-probability
  // Added to these tokens' logits before sampling (OpenAI's logit_bias: -100
  // all but bans a token, +100 all but forces it). The caller checks the ids
  // against the vocabulary and the values' range.
  std::vector<std::pair<int32_t, float>> logit_bias;
  // A chat reply starts at its first visible character (SentencePiece pieces
  // carry a leading space); a raw completion keeps it (it is part of the text).
  bool trim_leading_space = false;
  // Control tokens write their text ("[TOOL_CALLS]", "<think>" where it is a
  // special token) so that a reply parser can see the model's markup.
  bool render_special = false;
  // Builds the request's output constraint (nullptr: none). A factory, so that
  // options stay copyable and every run starts from a fresh constraint.
  std::function<std::unique_ptr<LogitConstraint>()> constraint;
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
  std::string stop_sequence;    // the stop string that ended it (empty: none did)
  Timings timings;
  std::vector<std::vector<TokenProb>> top;  // per generated position, when n_probs > 0
  // Per generated token (when GenerateOptions::logprobs): ln softmax(raw logits)[token].
  std::vector<float> logprobs;
};

// Called with each piece of text as it becomes final; return false to stop.
// `so_far` is the result up to now: its tokens (and log-probabilities) are
// those whose text is out, the piece's included, and any whose text is still
// held back (a possible stop string, an incomplete UTF-8 character).
using TextCallback = std::function<bool(std::string_view piece, const GenerateResult& so_far)>;

class Generation {
 public:
  // `prompt` is the whole sequence being continued (it seeds the penalty history).
  Generation(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
             const GenerateOptions& options, TextCallback on_text = {});
  ~Generation();

  // Given the logits after the last evaluated token, samples the next one and
  // streams its text. Returns the token to evaluate next, or nullopt when the
  // generation is over (result().done_reason says why). `room` is whether the
  // context can take one more token.
  std::optional<int32_t> step(std::span<const float> logits, bool room);
  // Ends the generation early ("stop"): the caller stopped it (cancellation).
  void cancel();
  bool done() const { return done_; }
  // Flushes held-back text; call once after the last step.
  void finish();

  GenerateResult& result() { return r_; }
  const GenerateResult& result() const { return r_; }

 private:
  bool emit(const std::string& text);

  const tokenizer::Tokenizer& tok_;
  GenerateOptions o_;
  TextCallback on_text_;
  sampling::Sampler sampler_;
  sampling::StopStrings stops_;
  tokenizer::StreamDecoder decoder_;
  std::unique_ptr<LogitConstraint> constraint_;
  std::vector<float> work_;  // the sampler modifies its logits
  GenerateResult r_;
  bool done_ = false, stopped_ = false, started_ = false;
};

// The n most probable tokens under softmax(logits), most probable first.
std::vector<TokenProb> top_probs(std::span<const float> logits, int n);

}  // namespace hearth::engine
