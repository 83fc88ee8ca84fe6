// What a chat template teaches about tools (chat/tool_calls.h): the call
// syntax read from its source, whether it reads `tools` or thinks, the tools
// list and the system prompt for templates that take none, and call ids fitted
// to what Mistral's templates accept.
#include <algorithm>
#include <cstdint>

#include "chat/lexer.h"
#include "chat/tool_calls.h"

namespace hearth::chat {

using ojson = nlohmann::ordered_json;

ojson tools_json(const std::vector<Tool>& tools) {
  ojson list = ojson::array();
  for (const Tool& t : tools) {
    ojson f = {{"name", t.name}, {"description", t.description}};
    f["parameters"] = t.parameters.is_object() ? t.parameters : ojson::object();
    list.push_back({{"type", "function"}, {"function", std::move(f)}});
  }
  return list;
}

ToolSyntax tool_syntax(std::string_view src) {
  auto has = [&](std::string_view s) { return src.find(s) != std::string_view::npos; };
  // The order matters: Qwen3-Coder's <function=..> sits inside <tool_call>,
  // Functionary's beside <|python_tag|>; Apriel's prose names <tool_call>.
  if (has("[TOOL_CALLS]")) return ToolSyntax::kMistral;
  if (has("<function=")) return ToolSyntax::kFunctionTag;
  if (has("<tool_calls>")) return ToolSyntax::kGeneric;  // Apriel: <tool_calls>[..]</tool_calls>
  if (has("<tool_call>")) return ToolSyntax::kHermes;
  if (has("<|python_tag|>") || (has("<|start_header_id|>") && has("\"parameters\": ")))
    return ToolSyntax::kLlama3;
  if (has("<|im_start|>") && !has("tool")) return ToolSyntax::kHermes;  // plain ChatML
  return ToolSyntax::kGeneric;
}

const char* to_string(ToolSyntax syntax) {
  switch (syntax) {
    case ToolSyntax::kHermes:
      return "hermes";
    case ToolSyntax::kLlama3:
      return "llama3";
    case ToolSyntax::kMistral:
      return "mistral";
    case ToolSyntax::kGeneric:
      return "generic";
    case ToolSyntax::kFunctionTag:
      return "function-tag";
  }
  return "?";
}

bool template_thinks(std::string_view src) {
  return src.find("<think>") != std::string_view::npos ||
         src.find("[THINK]") != std::string_view::npos;
}

bool template_takes_tools(std::string_view src) {
  try {
    for (const detail::Token& t : detail::tokenize(src))
      if (t.type == detail::Tok::Name && t.text == "tools") return true;
  } catch (const TemplateError&) {
  }
  return false;
}

std::string tools_system_prompt(const std::vector<Tool>& tools, ToolSyntax syntax) {
  std::string list;
  for (const ojson& t : tools_json(tools)) list += t.dump() + "\n";
  switch (syntax) {
    case ToolSyntax::kHermes:
      return "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
             "You are provided with function signatures within <tools></tools> XML "
             "tags:\n<tools>\n" +
             list +
             "</tools>\n\nFor each function call, return a json object with function name and "
             "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
             "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
    case ToolSyntax::kLlama3:
      return "You have access to the following functions. To call a function, please respond with "
             "JSON for a function call. Respond in the format {\"name\": function name, "
             "\"parameters\": dictionary of argument name and its value}. Do not use "
             "variables.\n\n" +
             list;
    case ToolSyntax::kMistral:
      return "You have access to the following functions:\n" + list +
             "\nTo call functions, respond with [TOOL_CALLS] followed by a JSON list of calls: "
             "[TOOL_CALLS][{\"name\": <function-name>, \"arguments\": <args-json-object>}]";
    case ToolSyntax::kFunctionTag:
      return "# Tools\n\nYou have access to the following functions:\n\n<tools>\n" + list +
             "</tools>\n\nIf you choose to call a function ONLY reply in the following format "
             "with NO suffix:\n\n<tool_call>\n<function=example_function_name>\n"
             "<parameter=example_parameter_1>\nvalue_1\n</parameter>\n</function>\n</tool_call>";
    case ToolSyntax::kGeneric:
      break;
  }
  return "You have access to the following functions:\n" + list +
         "\nTo call a function, respond with only a JSON object of the form {\"name\": "
         "<function-name>, \"arguments\": <args-json-object>}, and nothing else.";
}

void fit_call_ids(std::vector<Message>& messages, ToolSyntax syntax) {
  if (syntax != ToolSyntax::kMistral) return;
  auto fit = [](std::string& id) {
    if (id.size() == 9 && std::all_of(id.begin(), id.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        }))
      return;
    static constexpr char kChars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a: the same id gives the same 9 characters
    for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    id.clear();
    for (int i = 0; i < 9; ++i, h /= 62) id += kChars[h % 62];
  };
  for (Message& m : messages) {
    for (ToolCall& c : m.tool_calls) fit(c.id);
    if (!m.tool_call_id.empty()) fit(m.tool_call_id);
  }
}

}  // namespace hearth::chat
