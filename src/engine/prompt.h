// hearth's one prompt policy, shared by `hearth run` and every API: from what a
// user asked (a raw prompt, or chat messages) to the tokens the model
// continues -- template choice and rendering, BOS, the system message, what
// gives way when the conversation outgrows the context.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "engine/runtime.h"

namespace hearth::engine {

// What becomes of the model's turn markers ("[INST]", "<<SYS>>",
// "<|im_start|>", ...) in what users wrote (user and tool turns, a
// completion's prompt unless raw): they are never control tokens either way,
// but as text they could still read to the model as a new turn (role
// injection). kNeutralise breaks each with a zero-width space after its first
// character; kRefuse throws InputError.
enum class MarkerPolicy { kNeutralise, kRefuse };

// A user's text that MarkerPolicy::kRefuse refuses.
struct InputError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct PromptSpec {
  // Chat: `messages` rendered with the template. Completion (`chat` false):
  // `prompt` continued as is when `raw`, else wrapped as one user message.
  bool chat = false;
  std::vector<chat::Message> messages;
  std::string prompt;
  bool raw = false;
  // Completion: text after the gap (Ollama's `suffix`). The model fills in
  // the middle: [BOS] FIM_PRE prompt FIM_SUF suffix FIM_MID, as llama.cpp's
  // infill, for a vocabulary with those markers (else InputError).
  std::string suffix;
  // A system message put first (a messages list that has its own keeps it).
  std::string system;
  // Jinja chat template text; empty: the model's (or ChatML without one).
  std::string template_text;
  // Tokens of an earlier exchange this prompt continues (Ollama's `context`).
  std::vector<int32_t> context;
  // Chat: more template variables (`tools`, `enable_thinking`, ...).
  nlohmann::ordered_json template_vars = nlohmann::ordered_json::object();
  // Chat: markup that starts the reply, after the generation prompt (a forced
  // tool call's "<tool_call>\n"); parsed as template markup, special tokens
  // included.
  std::string reply_prefix;
  MarkerPolicy markers = MarkerPolicy::kNeutralise;
};

struct PromptLimits {
  int64_t n_ctx = 0;
  // Tokens the reply may take (< 0: unbounded): room is kept for up to a
  // quarter of the context.
  int64_t num_predict = -1;
  // When the prompt does not fit: true drops the oldest turns (chat) or the
  // start of the text, keeping BOS (completion); false throws ContextError.
  bool truncate = true;
};

struct Prompt {
  std::vector<int32_t> tokens;
  int64_t dropped_messages = 0;     // oldest turns left out to fit the context
  bool truncated = false;           // a completion prompt lost its start
  int64_t neutralised_markers = 0;  // turn markers broken in users' text (MarkerPolicy)
  // The conversation ended with the assistant's text, which the reply
  // continues (a prefill): its first space is part of the text.
  bool prefill = false;
};

// Throws ContextError (session.h) when the prompt cannot fit, chat::TemplateError
// when the template fails, InputError for a turn marker under
// MarkerPolicy::kRefuse or a suffix the model cannot take,
// std::invalid_argument for an empty prompt.
Prompt build_prompt(const Runtime& rt, const PromptSpec& spec, const PromptLimits& limits);

// Renders `messages` with `tmpl` and the generation prompt, and tokenizes it so
// that the template's markup is parsed as special tokens and the messages'
// content is not (a user typing "</s>" gets text, not end-of-sequence).
// `vars` are more template variables; `reply_prefix` is markup appended after
// the generation prompt.
std::vector<int32_t> render_chat(
    const Runtime& rt, const chat::ChatTemplate& tmpl, const std::vector<chat::Message>& messages,
    const nlohmann::ordered_json& vars = nlohmann::ordered_json::object(),
    const std::string& reply_prefix = {});

// The turn markers of `tmpl` for this vocabulary: the known textual markers
// and the vocabulary's control tokens that the template's markup writes (a
// conversation is rendered with placeholder messages and what is left of it
// is markup), longest first.
std::vector<std::string> turn_markers(const Runtime& rt, const chat::ChatTemplate& tmpl);

}  // namespace hearth::engine
