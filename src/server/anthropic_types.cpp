#include "server/anthropic_types.h"

#include <fmt/format.h>

#include <cmath>

#include "server/json_body.h"

namespace hearth::server::anthropic {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& message) {
  HttpError e(400, fmt::format("{}: {}", field, message));
  e.param = field;
  throw e;
}

std::string get_string(const Json& o, const char* key, const std::string& path) {
  const Json* v = find_field(o, key);
  if (!v) return "";
  if (!v->is_string()) bad(path, "must be a string");
  return v->get<std::string>();
}

// A text block list (system, tool_result content) or a plain string, as text.
std::string text_of(const Json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) bad(path, "must be a string or an array of content blocks");
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto& b = v[i];
    const std::string p = fmt::format("{}.{}", path, i);
    if (!b.is_object()) bad(p, "must be an object");
    const auto type = get_string(b, "type", p + ".type");
    if (type != "text")
      bad(p + ".type",
          fmt::format("'{}' blocks are not supported here (only text)", type.substr(0, 40)));
    out += get_string(b, "text", p + ".text");
  }
  return out;
}

}  // namespace

InferenceRequest parse_messages_request(const Json& body, bool count_only) {
  InferenceRequest r;
  const Json* model = find_field(body, "model");
  if (!model || !model->is_string()) bad("model", "a string is required");
  r.model = model->get<std::string>();
  const Json* max = find_field(body, "max_tokens");
  if (!max && !count_only) bad("max_tokens", "is required");
  if (max) {
    if (!max->is_number_integer() || max->get<int64_t>() < 1 || max->get<int64_t>() > (1 << 24))
      bad("max_tokens", "must be an integer in [1, 16777216]");
    r.options.num_predict = max->get<int64_t>();
  }
  if (const Json* t = find_field(body, "temperature")) {
    if (!t->is_number() || !std::isfinite(t->get<double>()) || t->get<double>() < 0 ||
        t->get<double>() > 1)
      bad("temperature", "must be a number in [0, 1]");
    r.options.temperature = t->get<float>();
  }
  if (const Json* t = find_field(body, "top_p")) {
    if (!t->is_number() || !(t->get<double>() > 0) || t->get<double>() > 1)
      bad("top_p", "must be a number in (0, 1]");
    r.options.top_p = t->get<float>();
  }
  if (const Json* t = find_field(body, "top_k")) {
    if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > (1 << 30))
      bad("top_k", "must be a non-negative integer");
    r.options.top_k = t->get<int64_t>();
  }
  if (const Json* s = find_field(body, "stop_sequences")) {
    if (!s->is_array() || s->size() > 16)
      bad("stop_sequences", "must be an array of at most 16 strings");
    std::vector<std::string> stops;
    for (const auto& x : *s) {
      if (!x.is_string() || x.get<std::string>().empty() || x.get<std::string>().size() > 256)
        bad("stop_sequences", "each must be a non-empty string of at most 256 bytes");
      stops.push_back(x.get<std::string>());
    }
    if (!stops.empty()) r.options.stop = stops;
  }
  if (const Json* s = find_field(body, "stream")) {
    if (!s->is_boolean()) bad("stream", "must be a boolean");
    r.stream = s->get<bool>();
  }

  auto& msgs = r.prompt.messages;
  r.prompt.chat = true;
  if (const Json* sys = find_field(body, "system"))
    msgs.push_back({"system", text_of(*sys, "system")});
  const Json* ms = find_field(body, "messages");
  if (!ms || !ms->is_array() || ms->empty()) bad("messages", "a non-empty array is required");
  for (size_t i = 0; i < ms->size(); ++i) {
    const auto& m = (*ms)[i];
    const std::string path = fmt::format("messages.{}", i);
    if (!m.is_object()) bad(path, "must be an object");
    const auto role = get_string(m, "role", path + ".role");
    if (role != "user" && role != "assistant")
      bad(path + ".role", fmt::format("must be user or assistant, got '{}'", role.substr(0, 40)));
    const Json* content = find_field(m, "content");
    if (!content) bad(path + ".content", "is required");
    if (content->is_string()) {
      msgs.push_back({role, content->get<std::string>()});
      continue;
    }
    if (!content->is_array()) bad(path + ".content", "must be a string or an array of blocks");
    // Blocks: text and thinking join the turn; tool_use blocks are its calls;
    // tool_result blocks become tool messages (in order).
    chat::Message turn{role, ""};
    auto flush = [&] {
      if (!turn.content.empty() || !turn.tool_calls.empty() || !turn.thinking.empty())
        msgs.push_back(turn);
      turn = chat::Message{role, ""};
    };
    for (size_t j = 0; j < content->size(); ++j) {
      const auto& b = (*content)[j];
      const std::string bp = fmt::format("{}.content.{}", path, j);
      if (!b.is_object()) bad(bp, "must be an object");
      const auto type = get_string(b, "type", bp + ".type");
      if (type == "text") {
        turn.content += get_string(b, "text", bp + ".text");
      } else if (type == "thinking") {
        turn.thinking += get_string(b, "thinking", bp + ".thinking");
      } else if (type == "redacted_thinking") {
        continue;
      } else if (type == "tool_use" && role == "assistant") {
        chat::ToolCall c;
        c.id = get_string(b, "id", bp + ".id");
        c.name = get_string(b, "name", bp + ".name");
        const Json* input = find_field(b, "input");
        if (input && !input->is_object()) bad(bp + ".input", "must be an object");
        if (input) c.arguments = *input;
        turn.tool_calls.push_back(std::move(c));
      } else if (type == "tool_result" && role == "user") {
        flush();
        chat::Message t{"tool", ""};
        t.tool_call_id = get_string(b, "tool_use_id", bp + ".tool_use_id");
        if (const Json* c = find_field(b, "content")) t.content = text_of(*c, bp + ".content");
        // A failed tool's result says so to the model, which would otherwise
        // read the error text as the tool's answer.
        if (const Json* e = find_field(b, "is_error")) {
          if (!e->is_boolean()) bad(bp + ".is_error", "must be a boolean");
          if (e->get<bool>()) t.content = "Error: " + t.content;
        }
        msgs.push_back(std::move(t));
      } else if (type == "image" || type == "document") {
        bad(bp + ".type",
            fmt::format("'{}' blocks are not supported: hearth's models read text only", type));
      } else {
        bad(bp + ".type",
            fmt::format("'{}' blocks are not supported in a {} turn", type.substr(0, 40), role));
      }
    }
    flush();
  }

  if (const Json* tools = find_field(body, "tools")) {
    if (!tools->is_array() || tools->size() > 128)
      bad("tools", "must be an array of at most 128 tools");
    for (size_t i = 0; i < tools->size(); ++i) {
      const auto& t = (*tools)[i];
      const std::string path = fmt::format("tools.{}", i);
      if (!t.is_object()) bad(path, "must be an object");
      const auto type = get_string(t, "type", path + ".type");
      if (!type.empty() && type != "custom")
        bad(path + ".type",
            fmt::format("server tools ('{}') are not supported", type.substr(0, 40)));
      chat::Tool tool;
      tool.name = get_string(t, "name", path + ".name");
      if (tool.name.empty() || tool.name.size() > 64)
        bad(path + ".name", "must be 1 to 64 characters");
      tool.description = get_string(t, "description", path + ".description");
      const Json* schema = find_field(t, "input_schema");
      if (!schema || !schema->is_object()) bad(path + ".input_schema", "an object is required");
      tool.parameters = *schema;
      r.tools.push_back(std::move(tool));
    }
  }
  if (const Json* tc = find_field(body, "tool_choice")) {
    if (!tc->is_object()) bad("tool_choice", "must be an object");
    const auto type = get_string(*tc, "type", "tool_choice.type");
    if (type == "auto")
      r.tool_choice.kind = ToolChoice::Kind::kAuto;
    else if (type == "any")
      r.tool_choice.kind = ToolChoice::Kind::kRequired;
    else if (type == "none")
      r.tool_choice.kind = ToolChoice::Kind::kNone;
    else if (type == "tool") {
      r.tool_choice.kind = ToolChoice::Kind::kNamed;
      r.tool_choice.name = get_string(*tc, "name", "tool_choice.name");
    } else {
      bad("tool_choice.type", "must be auto, any, tool or none");
    }
    if (const Json* d = find_field(*tc, "disable_parallel_tool_use"); d && d->is_boolean())
      r.parallel_tool_calls = !d->get<bool>();
  }
  // Structured outputs: output_config.format (and the beta's output_format),
  // {"type": "json_schema", "schema": {...}}, enforced by the grammar as
  // OpenAI's response_format is.
  const Json* of = nullptr;
  const char* of_name = "output_config.format";
  if (const Json* oc = find_field(body, "output_config")) {
    if (!oc->is_object()) bad("output_config", "must be an object");
    of = find_field(*oc, "format");
  }
  if (!of) of = find_field(body, "output_format"), of_name = "output_format";
  if (of && !of->is_null()) {
    if (!of->is_object() ||
        get_string(*of, "type", std::string(of_name) + ".type") != "json_schema")
      bad(of_name, "must be {\"type\": \"json_schema\", \"schema\": {...}}");
    const Json* schema = find_field(*of, "schema");
    if (!schema || !schema->is_object())
      bad(std::string(of_name) + ".schema", "an object is required");
    r.format = ollama::Json::parse(schema->dump());
  }
  if (const Json* th = find_field(body, "thinking")) {
    if (!th->is_object()) bad("thinking", "must be an object");
    const auto type = get_string(*th, "type", "thinking.type");
    if (type == "enabled" || type == "adaptive")
      r.think = true;
    else if (type == "disabled")
      r.think = false;
    else
      bad("thinking.type", "must be enabled or disabled");
  }
  return r;
}

std::string new_id(std::string_view prefix) { return random_id(prefix); }

std::string stop_reason(const Choice& c) {
  if (!c.reply.calls.empty()) return "tool_use";
  if (c.result.done_reason == "length") return "max_tokens";
  if (!c.result.stop_sequence.empty()) return "stop_sequence";
  return "end_turn";
}

Json stop_sequence(const Choice& c) {
  if (stop_reason(c) != "stop_sequence") return nullptr;
  return c.result.stop_sequence;
}

Json content_blocks(const Choice& c) {
  Json out = Json::array();
  if (!c.reply.thinking.empty())
    out.push_back(Json{{"type", "thinking"}, {"thinking", c.reply.thinking}, {"signature", ""}});
  if (!c.reply.content.empty() || c.reply.calls.empty())
    out.push_back(Json{{"type", "text"}, {"text", c.reply.content}});
  for (const auto& call : c.reply.calls) {
    Json b = Json::object();
    b["type"] = "tool_use";
    b["id"] = "toolu_" + call.id.substr(call.id.find('_') + 1);
    b["name"] = call.name;
    b["input"] = call.arguments;
    out.push_back(std::move(b));
  }
  return out;
}

Json message_object(const std::string& id, const std::string& model, const Json& content,
                    const Json& stop_reason, const Json& stop_sequence, int64_t input_tokens,
                    int64_t output_tokens) {
  Json j = Json::object();
  j["id"] = id;
  j["type"] = "message";
  j["role"] = "assistant";
  j["model"] = model;
  j["content"] = content;
  j["stop_reason"] = stop_reason;
  j["stop_sequence"] = stop_sequence;
  j["usage"] = {{"input_tokens", input_tokens}, {"output_tokens", output_tokens}};
  return j;
}

}  // namespace hearth::server::anthropic
