// Forced tool calls (tool_choice required or named): the schema a reply must
// match, and the markup it starts with, per template syntax (tool_calls.h).
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/tool_calls.h"

namespace hearth::chat {

using ojson = nlohmann::ordered_json;

namespace {

constexpr int kMaxParallelCalls = 16;  // forced parallel calls (kMistral)

// Keywords whose object value maps names (of properties, of definitions) to
// schemas: their keys are names, never keywords.
bool names_schemas(const std::string& keyword) {
  return keyword == "properties" || keyword == "patternProperties" || keyword == "$defs" ||
         keyword == "definitions" || keyword == "dependentSchemas";
}

// A tool's parameters sit at `at` (a JSON pointer) inside the call's schema:
// their references within themselves ("#/$defs/P", "#") are made to point
// there. Walked with a stack: no recursion as deep as the input. Values that
// are data, not schemas (const, enum, default, examples), are left alone,
// but only where those words are keywords: a property named "enum" is a schema.
void rebase_refs(ojson& schema, const std::string& at) {
  struct Pending {
    ojson* value;
    bool names;  // an object of names -> schemas (properties, $defs, ...)
  };
  std::vector<Pending> pending = {{&schema, false}};
  while (!pending.empty()) {
    const auto [v, names] = pending.back();
    pending.pop_back();
    if (v->is_array()) {
      for (auto& e : *v) pending.push_back({&e, false});
      continue;
    }
    if (!v->is_object()) continue;
    for (auto it = v->begin(); it != v->end(); ++it) {
      const std::string& k = it.key();
      if (names) {
        pending.push_back({&it.value(), false});
      } else if (k == "$ref" && it->is_string()) {
        const auto ref = it->get<std::string>();
        if (ref.starts_with("#")) *it = "#" + at + ref.substr(1);
      } else if (k != "const" && k != "enum" && k != "default" && k != "examples") {
        pending.push_back({&it.value(), names_schemas(k)});
      }
    }
  }
}

}  // namespace

ForcedCall forced_call(ToolSyntax syntax, const std::vector<Tool>& tools,
                       const std::string& only_name, bool parallel) {
  if (tools.empty()) throw std::invalid_argument("a forced tool call needs at least one tool");
  const char* args_key = syntax == ToolSyntax::kLlama3 ? "parameters" : "arguments";
  ojson alternatives = ojson::array();
  for (const Tool& t : tools) {
    if (!only_name.empty() && t.name != only_name) continue;
    ojson params;
    if (!t.parameters.is_object() || t.parameters.empty()) {
      params = {{"type", "object"}, {"additionalProperties", true}};
    } else if (!t.parameters.contains("type")) {
      // Properties, a combinator or a $ref without "type": arguments are still
      // an object. Beside a combinator, "type" narrows its alternatives to
      // objects (json_constraint.h).
      params = {{"type", "object"}};
      for (auto it = t.parameters.begin(); it != t.parameters.end(); ++it)
        params[it.key()] = it.value();
    } else {
      params = t.parameters;
    }
    ojson properties = ojson::object();
    properties["name"] = {{"const", t.name}};
    properties[args_key] = std::move(params);
    alternatives.push_back({{"type", "object"},
                            {"properties", std::move(properties)},
                            {"required", {"name", args_key}},
                            {"additionalProperties", false}});
  }
  if (alternatives.empty())
    throw std::invalid_argument("tool_choice names the function '" + only_name +
                                "', which is not among the tools");
  const std::string outer = syntax == ToolSyntax::kMistral ? "/items" : "";
  for (size_t i = 0; i < alternatives.size(); ++i)
    rebase_refs(alternatives[i]["properties"][args_key],
                outer + (alternatives.size() == 1 ? "" : "/anyOf/" + std::to_string(i)) +
                    "/properties/" + args_key);
  ojson call = alternatives.size() == 1 ? std::move(alternatives[0])
                                        : ojson{{"anyOf", std::move(alternatives)}};
  switch (syntax) {
    case ToolSyntax::kHermes:
    case ToolSyntax::kFunctionTag:
      return {"<tool_call>\n", std::move(call)};
    case ToolSyntax::kMistral:
      return {"[TOOL_CALLS]",
              {{"type", "array"},
               {"items", std::move(call)},
               {"minItems", 1},
               {"maxItems", parallel ? kMaxParallelCalls : 1}}};
    case ToolSyntax::kLlama3:
    case ToolSyntax::kGeneric:
      break;
  }
  return {"", std::move(call)};
}

}  // namespace hearth::chat
