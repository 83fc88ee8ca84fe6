// What every generation API asks of the engine, in one neutral shape, and the
// one path that runs it. Ollama's /api/generate and /api/chat, OpenAI's chat
// completions, completions and responses, and Anthropic's messages differ only
// in their wire types; the model, the prompt, tools and reasoning, output
// formats, the response cache, the scheduler and the split of a reply into
// content, thinking and tool calls are decided here, once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/tool_calls.h"
#include "engine/generation.h"
#include "engine/prompt.h"
#include "server/http.h"
#include "server/ollama_types.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

// What Ollama options (a request's over a model's stored parameters, already
// merged) ask of the engine. `hearth run` without a server applies a model's
// parameters through this too, so a model behaves the same with and without one.
struct Settings {
  engine::GenerateOptions gen;  // sampler, max_tokens, stop
  int64_t num_ctx = 0;          // tokens; 0: unset (the caller's default)
};
// Checked as the engine checks them: throws sampling::ParamError naming the
// option. A negative seed (or none) leaves the sampler's seed as it is.
Settings settings_of(const ollama::Options& merged);

// Whether (and which) tool the model must call.
struct ToolChoice {
  enum class Kind { kAuto, kNone, kRequired, kNamed };
  Kind kind = Kind::kAuto;
  std::string name;  // kNamed: the tool
};

struct InferenceRequest {
  std::string model;  // as requested: answers echo it
  // Sampling and limits in Ollama's terms (every API maps onto them), applied
  // over the model's stored parameters.
  ollama::Options options;
  std::optional<ollama::KeepAlive> keep_alive;  // absent: the server's default
  engine::PromptSpec prompt;                    // chat messages, or a completion
  // Output format: null (free text), "json" (any JSON object) or a JSON schema.
  ollama::Json format;
  std::vector<chat::Tool> tools;
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
  // Reasoning: absent means the model's default (a thinking template thinks).
  // true for a model whose template cannot think is a 400.
  std::optional<bool> think;
  int n = 1;              // independent choices (OpenAI's n): seeds seed, seed + 1, ...
  bool logprobs = false;  // each token's log-probability
  int top_logprobs = 0;   // and the n most probable alternatives, 0..20
  std::vector<std::pair<int32_t, float>> logit_bias;  // token ids checked here
  bool stream = false;
  bool trim_leading_space = true;  // false for a raw completion
  // A prompt that does not fit the context: false answers 400; true (Ollama's
  // `truncate`, true unless a request says false) drops the oldest turns, or a
  // completion prompt's start, and says so in the X-Hearth-Truncated header.
  bool truncate = false;
};

// One finished choice.
struct Choice {
  int index = 0;
  engine::GenerateResult result;  // tokens, the raw text, timings, log-probabilities
  chat::ParsedReply reply;        // the text split into content, thinking and calls
  // "stop", "length", or "tool_calls" when the reply called tools.
  std::string finish_reason;
  // When log-probabilities were asked for: each generated token's entry
  // (logprob_entries), else null. A stream sends each entry with the piece its
  // token's text came out in; `logprobs_streamed` counts those already sent,
  // and the last chunk carries the rest (unsent_logprobs).
  ollama::Json logprobs = nullptr;
  size_t logprobs_streamed = 0;
};

struct Outcome {
  std::vector<Choice> choices;  // by index
  int64_t prompt_tokens = 0;    // the whole prompt
  // Of the first choice: prompt tokens evaluated (prefix reuse skips the rest).
  engine::Timings timings;
  double load_s = 0;   // waiting for and loading the model
  double total_s = 0;  // the whole request
  bool cache_hit = false;
  std::vector<int32_t> prompt_ids;  // for Ollama's `context`
};

// Each API's view of a run. Calls come from the scheduler's thread (or the
// handler's, for a cached answer), in order; done() or failed() exactly once.
class InferenceSink {
 public:
  virtual ~InferenceSink() = default;
  // Streaming requests only: the answer starts (send the headers). `queue` is
  // the place in line (0: running); `prompt_tokens` the whole prompt's size.
  virtual void begin(int64_t queue, bool cache_hit, int64_t prompt_tokens) = 0;
  // Streaming requests only: a piece of choice `index` as soon as it is final,
  // with the log-probability entries of the tokens it came from (null: none
  // asked for or none new; an API without them ignores them).
  virtual void event(int index, const chat::ReplyStream::Event& e,
                     const ollama::Json& logprobs) = 0;
  virtual void done(Outcome& outcome) = 0;
  // The generation failed after it started (a stream says so in its own way).
  virtual void failed(const std::string& message) = 0;
};

// Generated tokens [from, to)'s [{token, logprob, bytes, top_logprobs: [{token,
// logprob, bytes}]}] (the shape OpenAI's chat and Ollama share); `r` must hold
// log-probabilities for them.
ollama::Json logprob_entries(const engine::GenerateResult& r, const tokenizer::Tokenizer& tok,
                             size_t from, size_t to);
// The entries of `c` a stream has not sent yet (all of them when not
// streaming); null when log-probabilities were not asked for.
ollama::Json unsent_logprobs(const Choice& c);

// An id for a response object: `prefix` and 24 random [A-Za-z0-9]
// ("chatcmpl-…", "resp_…", "msg_…").
std::string random_id(std::string_view prefix);

// tool_choice as OpenAI writes it (and hearth's Ollama API accepts): absent,
// "auto", "none", "required", {"type": "function", "function": {"name"}} or
// {"type": "function", "name"}. Throws HttpError 400 (param tool_choice).
ToolChoice parse_tool_choice(const ollama::Json* value);

// Converts the id list of a logit_bias object ({"123": -100}) and checks ids and values.
// Throws HttpError 400 naming `field`.
std::vector<std::pair<int32_t, float>> parse_logit_bias(const ollama::Json& value,
                                                        std::string_view field = "logit_bias");

}  // namespace hearth::server
