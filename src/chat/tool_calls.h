// Tool calls and reasoning in model output: which call syntax a chat template
// teaches its model (read from the template's source), the tool list for
// templates that take none, parsing a reply (whole or streamed) into visible
// content, reasoning and calls, and forced calls (tool_choice "required" or a
// named tool) as a prompt suffix plus the JSON schema the constrained sampler
// enforces (grammar/json_constraint.h, json_ordered semantics).
//
// Parsing never recurses on input depth: JSON is handed to nlohmann's parser
// only as a balanced candidate whose nesting was counted first (at most 64
// levels) and whose size is bounded; anything else stays content.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"

namespace hearth::chat {

struct Tool {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters;  // a JSON schema (an object); null or {}: no constraint
};

// The `tools` variable templates expect (pass it in ChatTemplate::apply's extra):
// [{"type": "function", "function": {"name", "description", "parameters"}}].
nlohmann::ordered_json tools_json(const std::vector<Tool>& tools);

// How a model writes calls, read from its template's source.
enum class ToolSyntax {
  // <tool_call>{"name": .., "arguments": ..}</tool_call>: Qwen2.5, QwQ, Hermes
  // 2 Pro / 3, Granite, MiMo; the default for ChatML. Also GLM 4.x's
  // <tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>.
  kHermes,
  // {"name": .., "parameters": ..} as the whole reply (several joined by ';'),
  // or after <|python_tag|>: Llama 3.1, 3.2, 3.3.
  kLlama3,
  // [TOOL_CALLS][{"name": .., "arguments": ..}, ..] (v3), and the v11+ form
  // [TOOL_CALLS]name[ARGS]{..} (also name[CALL_ID]id[ARGS]{..}): Mistral Small
  // 3.x, Devstral, Ministral 3.
  kMistral,
  // A JSON object {"name", "arguments"} (or "parameters"), an array of them or
  // {"tool_calls": [..]} as the whole reply, or after one of the wrappers
  // <tool_call>, <tool_calls>, <TOOLCALL>, functools, <|function_call|>.
  kGeneric,
  // <function=name>...</function>, optionally inside <tool_call>..</tool_call>,
  // with <parameter=key>\nvalue\n</parameter> blocks (Qwen3-Coder, Qwen3.5,
  // Nemotron 3, Step 3.5) or a JSON object of arguments (Functionary v3.1).
  // Parameter values are JSON where they parse as a non-string, else text.
  kFunctionTag,
};
ToolSyntax tool_syntax(std::string_view template_source);
const char* to_string(ToolSyntax syntax);  // "hermes", "llama3", ...

// Whether the template emits <think> (reasoning models: QwQ, Qwen3, DeepSeek-R1...)
// or Mistral's [THINK] (Ministral 3 Reasoning).
bool template_thinks(std::string_view template_source);
// Whether the template reads a `tools` variable at all (if not, the caller puts
// the tool list into the system message with tools_system_prompt()). Decided on
// the template's tokens, so prose that says "tools" does not count.
bool template_takes_tools(std::string_view template_source);
// A system-message text that lists the tools and teaches `syntax`'s call format.
std::string tools_system_prompt(const std::vector<Tool>& tools, ToolSyntax syntax);
// Whether a rendered prompt ends inside an open <think> (QwQ and the R1
// distills put it into the generation prompt): pass as `thinking_open`.
bool prompt_opens_thinking(std::string_view prompt);
// Mistral's templates refuse call ids that are not exactly 9 alphanumerics.
// For kMistral, rewrites every other id (tool_calls[].id and tool_call_id) to 9
// alphanumerics derived from it, so a call and its result still match; other
// syntaxes are left alone.
void fit_call_ids(std::vector<Message>& messages, ToolSyntax syntax);

struct ParsedReply {
  std::string content;
  std::string thinking;
  std::vector<ToolCall> calls;
};
// A whole reply split into visible content, reasoning (<think>…</think>, and
// [THINK]…[/THINK] for kMistral; also when the template put the opening <think>
// into the prompt: `thinking_open`) and tool calls (ids "call_" + 8 random
// [a-z0-9]). Text that only looks like a call but does not parse stays content;
// so does a call with bytes that are not UTF-8: a call's name and arguments
// always dump() as JSON. Content may hold any bytes the model wrote.
// `tools_given` false: never parse calls. A think tag counts only at the start
// of the reply or right after a call or a think block (not inside prose).
// Whitespace next to markup is dropped; everything else is kept as written.
ParsedReply parse_reply(std::string_view text, ToolSyntax syntax, bool tools_given,
                        bool thinking_open);

// The same, incrementally for streaming: feed text pieces as generated; events
// come out as soon as they are certain (content is held back only while it may
// be the start of a call or of a think tag, and trailing whitespace until what
// follows it is known). Each call comes out whole, once its closing markup (or
// the end) is seen. Concatenating consecutive events of one kind gives exactly
// parse_reply's result, however the text is split. Memory: what is held back,
// at most one call (1 MiB; a longer one is content).
class ReplyStream {
 public:
  ReplyStream(ToolSyntax syntax, bool tools_given, bool thinking_open);
  ReplyStream(const ReplyStream&) = delete;
  ReplyStream& operator=(const ReplyStream&) = delete;
  ~ReplyStream();

  struct Event {
    enum class Kind { kContent, kThinking, kToolCall } kind;
    std::string text;  // kContent, kThinking
    ToolCall call;     // kToolCall
  };
  std::vector<Event> feed(std::string_view piece);
  std::vector<Event> finish();  // end of generation: flush what is held back

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// tool_choice "required" or a named tool: the text appended to the rendered
// prompt (after the generation prompt: "<tool_call>\n" for kHermes and
// kFunctionTag, "[TOOL_CALLS]" for kMistral, "" where the call is a bare JSON
// object), and the JSON schema the generated text must match so that it IS a
// valid call: {"name": const, "arguments" ("parameters" for kLlama3): that
// tool's parameters}, anyOf over the tools when several; for kMistral an array
// of 1 call, or 1..16 when `parallel` (the other syntaxes force one call).
// Property order name then arguments, no other properties. Empty or missing
// parameters: any object; parameters without "type" (a root anyOf, allOf or
// $ref) are held to objects too. Throws std::invalid_argument when `tools` is empty or
// `only_name` is not among them.
struct ForcedCall {
  std::string prompt_suffix;
  nlohmann::ordered_json schema;
};
ForcedCall forced_call(ToolSyntax syntax, const std::vector<Tool>& tools,
                       const std::string& only_name /* "" = any tool */, bool parallel);
// The calls in text generated under forced_call's schema (after its suffix);
// empty if it is not one.
std::vector<ToolCall> parse_forced(std::string_view generated, ToolSyntax syntax);

std::string new_call_id();  // "call_" + 8 [a-z0-9]

}  // namespace hearth::chat
