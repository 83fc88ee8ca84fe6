// Chat templates: a sandboxed Jinja interpreter with Hugging Face semantics
// (trim_blocks and lstrip_blocks on, loop controls, tojson keeping non-ASCII,
// raise_exception(), strftime_now()), built-in fallback templates, and the rule
// that picks which template a model uses.
//
// Rendering is bounded: output size, evaluation steps, bytes allocated and
// call/nesting depth all have limits; exceeding one throws TemplateError.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat {

// Every parse, render and sandbox-limit error. what() names the template line
// where one is known.
struct TemplateError : std::runtime_error {
  using runtime_error::runtime_error;
};

// One call an assistant turn made. Rendered as OpenAI's
// {"id", "type": "function", "function": {"name", "arguments"}} with arguments
// an object (templates that want a string apply `| tojson` themselves).
struct ToolCall {
  std::string id = {};  // "call_" + 8 [a-z0-9] when hearth made it (tool_calls.h new_call_id)
  std::string name = {};
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // an object
};

// One chat turn. The fields after `content` are optional; each is rendered only
// when set, because templates test for their presence ('tool_calls' in message).
struct Message {
  std::string role;
  std::string content;  // rendered as none for an assistant turn with calls and no text
  // The `= {}` keep {role, content} free of -Wmissing-field-initializers.
  std::vector<ToolCall> tool_calls = {};  // assistant turns that called tools
  std::string tool_call_id = {};          // role "tool": which call this answers
  std::string name = {};                  // role "tool": the tool's name
  std::string thinking = {};              // assistant reasoning (rendered as reasoning_content)
};

// Sandbox limits for one render. The defaults allow any real chat template by
// orders of magnitude and stop hostile ones within about a second.
struct RenderLimits {
  std::size_t max_output_bytes = 8u << 20;  // text the template emits
  std::size_t max_value_bytes = 8u << 20;   // any one string or list built
  // Containers stay allocated until the render ends (so that freeing deep or
  // cyclic structures cannot overflow the stack); max_alloc_bytes bounds them.
  std::uint64_t max_alloc_bytes = 256ull << 20;  // all strings/containers built, cumulative
  std::uint64_t max_steps = 3'000'000;           // expression/statement evaluations
  int max_call_depth = 100;                      // nested macro calls
  // Machine stack the interpreter's recursion may use (nested macros times
  // nested expressions and blocks), checked as it goes: a deep template fails
  // cleanly whatever the frame sizes (sanitizer builds have large ones).
  std::size_t max_stack_bytes = 2u << 20;
  // Hugging Face renders in Jinja2's ImmutableSandboxedEnvironment, where
  // list.append(), dict.update() and the other mutating methods raise a
  // SecurityError. True allows them (Jinja2's SandboxedEnvironment).
  bool allow_mutation = false;
};

struct RenderOptions {
  // What strftime_now() reads, as local broken-down time. Unset: the current
  // local time at render.
  std::optional<std::tm> now;
  RenderLimits limits;
};

namespace detail {
struct Program;
}

class ChatTemplate {
 public:
  // Parses; throws TemplateError on a syntax error (with the line number).
  explicit ChatTemplate(std::string source);

  // Renders with HF semantics: the variables messages (a list of {role, content}
  // and, where set, tool_calls, tool_call_id, name, reasoning_content),
  // add_generation_prompt, bos_token and eos_token, plus each key of `extra`
  // (e.g. tools: [{"type": "function", "function": {name, description,
  // parameters}}], enable_thinking) which may override them. `extra` is an
  // ordered_json so that tools reach the template in the order written (a
  // nlohmann::json converts, with its keys sorted).
  std::string apply(const std::vector<Message>& messages, bool add_generation_prompt,
                    const std::string& bos_token, const std::string& eos_token,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  // Raw: the JSON object's keys are the template's variables (JSON null is none).
  // The ordered_json overload keeps the objects' key order, which tojson and
  // items() expose; nlohmann::json sorts keys.
  std::string render(const nlohmann::json& context, const RenderOptions& options = {}) const;
  std::string render(const nlohmann::ordered_json& context,
                     const RenderOptions& options = {}) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const detail::Program> program_;
};

// ChatML (<|im_start|>role\n...<|im_end|>\n): the template for models without one.
std::string chatml_template();

// Built-in templates by name: chatml, llama2, llama3, mistral, gemma, phi3, zephyr.
// Throws TemplateError for an unknown name (listing the known ones).
std::string builtin_template(std::string_view name);
std::vector<std::string> builtin_template_names();

// Which template text to use: an empty name gives the model's template if it has
// one, else ChatML; a built-in name gives that template; anything else is read as
// a file path (throws TemplateError if it cannot be read).
std::string resolve_template(const std::string& name_or_file, const std::string& model_template);

}  // namespace hearth::chat
