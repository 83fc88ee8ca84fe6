#include "server/openai_types.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "server/go_format.h"
#include "server/json_body.h"

namespace hearth::server::openai {

namespace {

const char* type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "number";
  }
}

[[noreturn]] void wrong(const std::string& field, const char* expected, const Json& v) {
  throw FieldError(field, fmt::format("'{}' must be {}, got {}", field, expected, type_name(v)));
}

std::optional<std::string> get_string(const Json& o, const char* key, const std::string& path) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong(path, "a string", *v);
  return v->get<std::string>();
}

std::optional<bool> get_bool(const Json& o, const char* key) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<double> get_number(const Json& o, const char* key, double lo, double hi) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong(key, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw FieldError(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi,
                                      sampling::format_number(d)));
  return d;
}

std::optional<int64_t> get_int(const Json& o, const char* key, int64_t lo, int64_t hi) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    // 3.0 is an integer; 3.5 is not.
    if (v->is_number_float()) {
      const double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
        return get_int(Json{{key, static_cast<int64_t>(d)}}, key, lo, hi);
    }
    wrong(key, "an integer", *v);
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
    throw FieldError(key, fmt::format("'{}' must be in [{}, {}]", key, lo, hi));
  const int64_t i = v->get<int64_t>();
  if (i < lo || i > hi)
    throw FieldError(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, i));
  return i;
}

const Json& require(const Json& o, const char* key) {
  const Json* v = find_field(o, key);
  if (!v) throw FieldError(key, fmt::format("'{}' is required", key));
  return *v;
}

// `stop`: a string or an array of at most 16 strings, each at most 256 bytes.
std::vector<std::string> parse_stop(const Json& o, const char* key) {
  std::vector<std::string> out;
  const Json* v = find_field(o, key);
  if (!v) return out;
  auto add = [&](const Json& s) {
    if (!s.is_string()) wrong(key, "a string or an array of strings", s);
    auto str = s.get<std::string>();
    if (str.empty()) throw FieldError(key, fmt::format("'{}' strings must not be empty", key));
    if (str.size() > 256)
      throw FieldError(key, fmt::format("'{}' strings may be at most 256 bytes", key));
    out.push_back(std::move(str));
  };
  if (v->is_array()) {
    if (v->size() > 16) throw FieldError(key, fmt::format("'{}' may hold at most 16 strings", key));
    for (const auto& s : *v) add(s);
  } else {
    add(*v);
  }
  return out;
}

// Content: a string, or an array of parts of which only text is understood.
std::string parse_content(const Json& v, const std::string& path) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) wrong(path, "a string or an array of content parts", v);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto& part = v[i];
    const std::string p = fmt::format("{}[{}]", path, i);
    if (!part.is_object()) wrong(p, "an object", part);
    const auto type = get_string(part, "type", p + ".type").value_or("");
    if (type == "text" || type == "input_text" || type == "output_text") {
      const auto text = get_string(part, "text", p + ".text");
      if (!text) throw FieldError(p + ".text", fmt::format("'{}.text' is required", p));
      out += *text;
    } else if (type == "image_url" || type == "input_image" || type == "input_audio" ||
               type == "file" || type == "input_file") {
      throw FieldError(
          p + ".type",
          fmt::format("'{}' parts are not supported: hearth's models read text only", type));
    } else {
      throw FieldError(p + ".type", fmt::format("unknown content part type '{}'", type));
    }
  }
  return out;
}

// {"name", "arguments": "<json object>"} -> a call; the arguments must parse as an object.
chat::ToolCall parse_function_call(const std::string& id, const Json& fn, const std::string& path) {
  if (!fn.is_object()) wrong(path, "an object", fn);
  chat::ToolCall c;
  c.id = id;
  c.name = get_string(fn, "name", path + ".name").value_or("");
  const Json* args = find_field(fn, "arguments");
  if (args && args->is_string()) {
    auto parsed = Json::parse(args->get<std::string>(), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
      throw FieldError(path + ".arguments",
                       fmt::format("'{}.arguments' must be a JSON object in a string", path));
    c.arguments = std::move(parsed);
  } else if (args && args->is_object()) {
    c.arguments = *args;
  } else if (args) {
    wrong(path + ".arguments", "a string", *args);
  }
  return c;
}

std::vector<chat::Message> parse_messages(const Json& body) {
  const Json& ms = require(body, "messages");
  if (!ms.is_array()) wrong("messages", "an array", ms);
  if (ms.empty()) throw FieldError("messages", "'messages' must hold at least one message");
  std::vector<chat::Message> out;
  for (size_t i = 0; i < ms.size(); ++i) {
    const auto& m = ms[i];
    const std::string path = fmt::format("messages[{}]", i);
    if (!m.is_object()) wrong(path, "an object", m);
    chat::Message msg;
    msg.role = get_string(m, "role", path + ".role").value_or("");
    if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name for it
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
      throw FieldError(path + ".role",
                       fmt::format("'{}.role' must be system, developer, user, assistant or tool, "
                                   "got '{}'",
                                   path, msg.role.substr(0, 40)));
    if (const Json* c = find_field(m, "content"))
      msg.content = parse_content(*c, path + ".content");
    if (auto r = get_string(m, "reasoning_content", path + ".reasoning_content")) msg.thinking = *r;
    if (const Json* calls = find_field(m, "tool_calls")) {
      if (!calls->is_array()) wrong(path + ".tool_calls", "an array", *calls);
      for (size_t j = 0; j < calls->size(); ++j) {
        const auto& c = (*calls)[j];
        const std::string cp = fmt::format("{}.tool_calls[{}]", path, j);
        if (!c.is_object()) wrong(cp, "an object", c);
        const Json* fn = find_field(c, "function");
        if (!fn) throw FieldError(cp + ".function", fmt::format("'{}.function' is required", cp));
        msg.tool_calls.push_back(parse_function_call(get_string(c, "id", cp + ".id").value_or(""),
                                                     *fn, cp + ".function"));
      }
    }
    if (msg.role == "tool") {
      msg.tool_call_id = get_string(m, "tool_call_id", path + ".tool_call_id").value_or("");
      msg.name = get_string(m, "name", path + ".name").value_or("");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

chat::Tool parse_tool_function(const Json& fn, const std::string& path) {
  if (!fn.is_object()) wrong(path, "an object", fn);
  chat::Tool t;
  t.name = get_string(fn, "name", path + ".name").value_or("");
  if (t.name.empty() || t.name.size() > 64)
    throw FieldError(path + ".name", fmt::format("'{}.name' must be 1 to 64 characters", path));
  t.description = get_string(fn, "description", path + ".description").value_or("");
  if (const Json* p = find_field(fn, "parameters")) {
    if (!p->is_object()) wrong(path + ".parameters", "an object (a JSON schema)", *p);
    t.parameters = *p;
  } else {
    t.parameters = Json::object();
  }
  return t;
}

// Chat completions' tools: [{type: "function", function: {...}}]; the Responses
// API's are flat: [{type: "function", name, description, parameters}].
std::vector<chat::Tool> parse_tools(const Json& body, bool flat) {
  std::vector<chat::Tool> out;
  const Json* tools = find_field(body, "tools");
  if (!tools) return out;
  if (!tools->is_array()) wrong("tools", "an array", *tools);
  if (tools->size() > 128) throw FieldError("tools", "'tools' may hold at most 128 tools");
  for (size_t i = 0; i < tools->size(); ++i) {
    const auto& t = (*tools)[i];
    const std::string path = fmt::format("tools[{}]", i);
    if (!t.is_object()) wrong(path, "an object", t);
    const auto type = get_string(t, "type", path + ".type").value_or("function");
    if (type != "function")
      throw FieldError(path + ".type",
                       fmt::format("tool type '{}' is not supported (only 'function')", type));
    if (flat) {
      out.push_back(parse_tool_function(t, path));
    } else {
      const Json* fn = find_field(t, "function");
      if (!fn) throw FieldError(path + ".function", fmt::format("'{}.function' is required", path));
      out.push_back(parse_tool_function(*fn, path + ".function"));
    }
  }
  return out;
}

// response_format (chat) / text.format (responses): text, json_object, json_schema.
Json parse_format(const Json* v, const std::string& path, bool flat) {
  if (!v) return nullptr;
  if (!v->is_object()) wrong(path, "an object", *v);
  const auto type = get_string(*v, "type", path + ".type").value_or("text");
  if (type == "text") return nullptr;
  if (type == "json_object") return "json";
  if (type != "json_schema")
    throw FieldError(path + ".type",
                     fmt::format("'{}.type' must be text, json_object or json_schema, got '{}'",
                                 path, type.substr(0, 40)));
  const Json* holder = flat ? v : find_field(*v, "json_schema");
  if (!holder || !holder->is_object())
    throw FieldError(path + ".json_schema", fmt::format("'{}.json_schema' is required", path));
  const Json* schema = find_field(*holder, "schema");
  // No schema: any JSON object, as json_object asks ({} would allow any value).
  if (!schema) return "json";
  if (!schema->is_object() && !schema->is_boolean())
    wrong(path + (flat ? ".schema" : ".json_schema.schema"), "an object", *schema);
  return *schema;
}

// reasoning_effort: "none"/"minimal" turn reasoning off, the others on.
std::optional<bool> parse_effort(const std::optional<std::string>& effort, const char* field) {
  if (!effort) return std::nullopt;
  if (*effort == "none" || *effort == "minimal") return false;
  if (*effort == "low" || *effort == "medium" || *effort == "high" || *effort == "xhigh")
    return true;
  throw FieldError(field, fmt::format("'{}' must be none, minimal, low, medium or high, got '{}'",
                                      field, effort->substr(0, 40)));
}

// What chat completions, completions and responses share: the model and sampling.
void parse_common(const Json& body, InferenceRequest& r) {
  const Json& model = require(body, "model");
  if (!model.is_string()) wrong("model", "a string", model);
  r.model = model.get<std::string>();
  auto& o = r.options;
  if (auto t = get_number(body, "temperature", 0, 2)) o.temperature = static_cast<float>(*t);
  if (auto p = get_number(body, "top_p", 0, 1)) {
    if (*p == 0) throw FieldError("top_p", "'top_p' must be in (0, 1], got 0");
    o.top_p = static_cast<float>(*p);
  }
  if (auto p = get_number(body, "presence_penalty", -2, 2))
    o.presence_penalty = static_cast<float>(*p);
  if (auto p = get_number(body, "frequency_penalty", -2, 2))
    o.frequency_penalty = static_cast<float>(*p);
  if (auto s = get_int(body, "seed", INT64_MIN, INT64_MAX)) o.seed = *s;
  std::optional<int64_t> max;
  for (const char* k : {"max_tokens", "max_completion_tokens", "max_output_tokens"})
    if (auto m = get_int(body, k, 1, 1 << 24)) max = *m;
  if (max) o.num_predict = *max;
  const auto stop = parse_stop(body, "stop");
  if (!stop.empty()) o.stop = stop;
  // Without an explicit choice OpenAI samples (temperature 1); hearth keeps its
  // model's defaults, which is what local users expect from their Modelfile.
  if (auto n = get_int(body, "n", 1, 8)) r.n = static_cast<int>(*n);
  if (auto s = get_bool(body, "stream")) r.stream = *s;
  if (const Json* b = find_field(body, "logit_bias")) r.logit_bias = parse_logit_bias(*b);
  // hearth's own extension, as in Ollama's compatibility layer: a context size.
  if (auto c = get_int(body, "num_ctx", 16, 1 << 20)) o.num_ctx = *c;
  // And whether a prompt longer than the context drops its oldest turns
  // (Ollama's `truncate`); by default it is a 400 context_length_exceeded, as
  // OpenAI answers it.
  if (auto t = get_bool(body, "truncate")) r.truncate = *t;
}

bool include_usage(const Json& body) {
  const Json* so = find_field(body, "stream_options");
  if (!so) return false;
  if (!so->is_object()) wrong("stream_options", "an object", *so);
  return get_bool(*so, "include_usage").value_or(false);
}

}  // namespace

ChatRequest parse_chat_request(const Json& body) {
  ChatRequest r;
  auto& ir = r.inference;
  parse_common(body, ir);
  ir.prompt.chat = true;
  ir.prompt.messages = parse_messages(body);
  ir.tools = parse_tools(body, false);
  ir.tool_choice = parse_tool_choice(find_field(body, "tool_choice"));
  ir.parallel_tool_calls = get_bool(body, "parallel_tool_calls").value_or(true);
  ir.format = parse_format(find_field(body, "response_format"), "response_format", false);
  ir.think =
      parse_effort(get_string(body, "reasoning_effort", "reasoning_effort"), "reasoning_effort");
  ir.logprobs = get_bool(body, "logprobs").value_or(false);
  if (auto t = get_int(body, "top_logprobs", 0, 20)) {
    if (!ir.logprobs && *t > 0)
      throw FieldError("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    ir.top_logprobs = static_cast<int>(*t);
  }
  r.include_usage = include_usage(body);
  return r;
}

CompletionRequest parse_completion_request(const Json& body) {
  CompletionRequest r;
  auto& ir = r.inference;
  parse_common(body, ir);
  const Json& prompt = require(body, "prompt");
  if (prompt.is_string()) {
    ir.prompt.prompt = prompt.get<std::string>();
  } else if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) {
    ir.prompt.prompt = prompt[0].get<std::string>();
  } else {
    throw FieldError("prompt", "'prompt' must be a string (or an array of one string)");
  }
  // Fill in the middle, where the model's vocabulary has the markers (else a 400).
  if (auto suffix = get_string(body, "suffix", "suffix")) ir.prompt.suffix = *suffix;
  if (find_field(body, "best_of") && get_int(body, "best_of", 1, 8).value_or(1) != 1)
    throw FieldError("best_of", "'best_of' is not supported");
  // OpenAI's default for completions is 16 tokens.
  if (!ir.options.num_predict) ir.options.num_predict = 16;
  ir.prompt.chat = false;
  ir.prompt.raw = true;
  ir.trim_leading_space = false;
  r.echo = get_bool(body, "echo").value_or(false);
  if (auto lp = get_int(body, "logprobs", 0, 5)) {
    ir.logprobs = true;
    ir.top_logprobs = static_cast<int>(*lp);
  }
  r.include_usage = include_usage(body);
  return r;
}

ResponsesRequest parse_responses_request(const Json& body) {
  ResponsesRequest r;
  auto& ir = r.inference;
  if (find_field(body, "previous_response_id"))
    throw FieldError("previous_response_id",
                     "'previous_response_id' is not supported: hearth stores no responses (send "
                     "the whole conversation as 'input')");
  if (find_field(body, "conversation"))
    throw FieldError("conversation", "'conversation' is not supported: hearth stores nothing");
  parse_common(body, ir);
  ir.n = 1;
  ir.prompt.chat = true;
  auto& msgs = ir.prompt.messages;
  if (auto instr = get_string(body, "instructions", "instructions"))
    msgs.push_back({"system", *instr});
  const Json& input = require(body, "input");
  if (input.is_string()) {
    msgs.push_back({"user", input.get<std::string>()});
  } else if (input.is_array()) {
    for (size_t i = 0; i < input.size(); ++i) {
      const auto& item = input[i];
      const std::string path = fmt::format("input[{}]", i);
      if (!item.is_object()) wrong(path, "an object", item);
      const auto type = get_string(item, "type", path + ".type").value_or("message");
      if (type == "message") {
        chat::Message m;
        m.role = get_string(item, "role", path + ".role").value_or("");
        if (m.role == "developer") m.role = "system";
        if (m.role != "system" && m.role != "user" && m.role != "assistant")
          throw FieldError(
              path + ".role",
              fmt::format("'{}.role' must be system, developer, user or assistant", path));
        if (const Json* c = find_field(item, "content"))
          m.content = parse_content(*c, path + ".content");
        msgs.push_back(std::move(m));
      } else if (type == "function_call") {
        auto call = parse_function_call(get_string(item, "call_id", path + ".call_id").value_or(""),
                                        item, path);
        // Consecutive calls belong to one assistant turn.
        if (msgs.empty() || msgs.back().role != "assistant" || !msgs.back().content.empty())
          msgs.push_back({"assistant", ""});
        msgs.back().tool_calls.push_back(std::move(call));
      } else if (type == "function_call_output") {
        chat::Message m;
        m.role = "tool";
        m.tool_call_id = get_string(item, "call_id", path + ".call_id").value_or("");
        const Json* out = find_field(item, "output");
        m.content = out ? (out->is_string() ? out->get<std::string>() : out->dump()) : "";
        msgs.push_back(std::move(m));
      } else if (type == "reasoning") {
        continue;  // earlier reasoning: templates drop it from past turns anyway
      } else {
        throw FieldError(path + ".type", fmt::format("input items of type '{}' are not supported",
                                                     type.substr(0, 40)));
      }
    }
  } else {
    wrong("input", "a string or an array of items", input);
  }
  if (msgs.empty()) throw FieldError("input", "'input' must not be empty");
  ir.tools = parse_tools(body, true);
  ir.tool_choice = parse_tool_choice(find_field(body, "tool_choice"));
  ir.parallel_tool_calls = get_bool(body, "parallel_tool_calls").value_or(true);
  if (const Json* text = find_field(body, "text")) {
    if (!text->is_object()) wrong("text", "an object", *text);
    ir.format = parse_format(find_field(*text, "format"), "text.format", true);
  }
  if (const Json* reasoning = find_field(body, "reasoning")) {
    if (!reasoning->is_object()) wrong("reasoning", "an object", *reasoning);
    ir.think =
        parse_effort(get_string(*reasoning, "effort", "reasoning.effort"), "reasoning.effort");
  }
  return r;
}

EmbeddingsRequest parse_embeddings_request(const Json& body) {
  EmbeddingsRequest r;
  const Json& model = require(body, "model");
  if (!model.is_string()) wrong("model", "a string", model);
  r.spec.model = model.get<std::string>();
  const Json& input = require(body, "input");
  if (input.is_string()) {
    r.spec.inputs.push_back(input.get<std::string>());
  } else if (input.is_array()) {
    if (input.size() > 2048) throw FieldError("input", "'input' may hold at most 2048 strings");
    for (const auto& s : input) {
      if (!s.is_string())
        throw FieldError("input",
                         "'input' must be a string or an array of strings (token "
                         "arrays are not supported)");
      r.spec.inputs.push_back(s.get<std::string>());
    }
  } else {
    wrong("input", "a string or an array of strings", input);
  }
  for (const auto& s : r.spec.inputs)
    if (s.empty()) throw FieldError("input", "'input' strings must not be empty");
  if (auto d = get_int(body, "dimensions", 1, 1 << 20)) r.spec.dimensions = *d;
  const auto fmt = get_string(body, "encoding_format", "encoding_format").value_or("float");
  if (fmt != "float" && fmt != "base64")
    throw FieldError("encoding_format", "'encoding_format' must be float or base64");
  r.base64 = fmt == "base64";
  r.spec.truncate = true;  // as OpenAI-compatible local servers do
  return r;
}

// ------------------------------------------------------------- responses

std::string new_id(std::string_view prefix) { return random_id(prefix); }

Json usage_json(const Usage& u) {
  Json j = Json::object();
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  return j;
}

Json logprobs_json(const Choice& c) {
  Json content = unsent_logprobs(c);
  if (content.is_null()) return nullptr;
  return Json{{"content", std::move(content)}};
}

Json tool_call_json(const chat::ToolCall& c) {
  Json j = Json::object();
  j["id"] = c.id;
  j["type"] = "function";
  j["function"] = {{"name", c.name}, {"arguments", c.arguments.dump()}};
  return j;
}

namespace {
Usage usage_of(const Outcome& o) {
  Usage u;
  u.prompt_tokens = o.prompt_tokens;
  for (const auto& c : o.choices)
    u.completion_tokens += static_cast<int64_t>(c.result.tokens.size());
  return u;
}
Json head(const std::string& id, const char* object, int64_t created, const std::string& model) {
  Json j = Json::object();
  j["id"] = id;
  j["object"] = object;
  j["created"] = created;
  j["model"] = model;
  j["system_fingerprint"] = "fp_hearth";
  return j;
}
}  // namespace

Json chat_completion(const std::string& id, int64_t created, const std::string& model,
                     const Outcome& o) {
  Json j = head(id, "chat.completion", created, model);
  Json choices = Json::array();
  for (const auto& c : o.choices) {
    Json msg = Json::object();
    msg["role"] = "assistant";
    msg["content"] =
        c.reply.content.empty() && !c.reply.calls.empty() ? Json() : Json(c.reply.content);
    if (!c.reply.thinking.empty()) msg["reasoning_content"] = c.reply.thinking;
    if (!c.reply.calls.empty()) {
      Json calls = Json::array();
      for (const auto& call : c.reply.calls) calls.push_back(tool_call_json(call));
      msg["tool_calls"] = std::move(calls);
    }
    Json ch = Json::object();
    ch["index"] = c.index;
    ch["message"] = std::move(msg);
    ch["logprobs"] = logprobs_json(c);
    ch["finish_reason"] = c.finish_reason;
    choices.push_back(std::move(ch));
  }
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(usage_of(o));
  return j;
}

Json chat_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                Json delta, const Json& finish_reason, const Json& logprobs) {
  Json j = head(id, "chat.completion.chunk", created, model);
  Json ch = Json::object();
  ch["index"] = index;
  ch["delta"] = std::move(delta);
  ch["logprobs"] = logprobs;
  ch["finish_reason"] = finish_reason;
  j["choices"] = Json::array({std::move(ch)});
  return j;
}

Json usage_chunk(const std::string& id, int64_t created, const std::string& model,
                 const std::string& object, const Usage& u) {
  Json j = head(id, object.c_str(), created, model);
  j["choices"] = Json::array();
  j["usage"] = usage_json(u);
  return j;
}

Json completion_logprobs(const Json& entries) {
  if (!entries.is_array()) return nullptr;
  // The legacy shape: parallel arrays, alternatives as {token: logprob}.
  Json tokens = Json::array(), lps = Json::array(), tops = Json::array();
  for (const auto& e : entries) {
    tokens.push_back(e["token"]);
    lps.push_back(e["logprob"]);
    Json top = Json::object();
    for (const auto& a : e["top_logprobs"]) top[a["token"].get<std::string>()] = a["logprob"];
    tops.push_back(std::move(top));
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}};
}

Json completion(const std::string& id, int64_t created, const std::string& model, const Outcome& o,
                const std::string& echo_prefix) {
  Json j = head(id, "text_completion", created, model);
  Json choices = Json::array();
  for (const auto& c : o.choices) {
    Json ch = Json::object();
    ch["text"] = echo_prefix + c.result.text;
    ch["index"] = c.index;
    ch["logprobs"] = completion_logprobs(unsent_logprobs(c));
    ch["finish_reason"] = c.result.done_reason;
    choices.push_back(std::move(ch));
  }
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(usage_of(o));
  return j;
}

Json completion_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                      const std::string& text, const Json& finish_reason, const Json& logprobs) {
  Json j = head(id, "text_completion", created, model);
  Json ch = Json::object();
  ch["text"] = text;
  ch["index"] = index;
  ch["logprobs"] = logprobs;
  ch["finish_reason"] = finish_reason;
  j["choices"] = Json::array({std::move(ch)});
  return j;
}

Json response_output(const Outcome& o, const std::string& msg_id) {
  Json out = Json::array();
  const auto& c = o.choices[0];
  if (!c.reply.thinking.empty()) {
    Json r = Json::object();
    r["type"] = "reasoning";
    r["id"] = "rs_" + msg_id.substr(4);
    r["summary"] = Json::array();
    r["content"] = Json::array({Json{{"type", "reasoning_text"}, {"text", c.reply.thinking}}});
    out.push_back(std::move(r));
  }
  if (!c.reply.content.empty() || c.reply.calls.empty()) {
    Json m = Json::object();
    m["type"] = "message";
    m["id"] = msg_id;
    m["status"] = c.result.done_reason == "length" ? "incomplete" : "completed";
    m["role"] = "assistant";
    Json part = Json::object();
    part["type"] = "output_text";
    part["text"] = c.reply.content;
    part["annotations"] = Json::array();
    part["logprobs"] = Json::array();
    m["content"] = Json::array({std::move(part)});
    out.push_back(std::move(m));
  }
  for (const auto& call : c.reply.calls) {
    Json f = Json::object();
    f["type"] = "function_call";
    f["id"] = "fc_" + call.id.substr(call.id.find('_') + 1);
    f["call_id"] = call.id;
    f["name"] = call.name;
    f["arguments"] = call.arguments.dump();
    f["status"] = "completed";
    out.push_back(std::move(f));
  }
  return out;
}

Json response_object(const std::string& id, int64_t created, const std::string& model,
                     const std::string& status, const Json& output, const Usage& u,
                     bool parallel_tool_calls) {
  Json j = Json::object();
  j["id"] = id;
  j["object"] = "response";
  j["created_at"] = created;
  j["status"] = status;
  j["error"] = nullptr;
  j["incomplete_details"] =
      status == "incomplete" ? Json{{"reason", "max_output_tokens"}} : Json(nullptr);
  j["model"] = model;
  j["output"] = output;
  j["parallel_tool_calls"] = parallel_tool_calls;
  j["store"] = false;
  Json usage = Json::object();
  usage["input_tokens"] = u.prompt_tokens;
  usage["input_tokens_details"] = {{"cached_tokens", 0}};
  usage["output_tokens"] = u.completion_tokens;
  usage["output_tokens_details"] = {{"reasoning_tokens", 0}};
  usage["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  j["usage"] = status == "in_progress" ? Json(nullptr) : usage;
  return j;
}

Json embeddings_response(const std::string& model, const Embedded& e, bool base64) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  Json data = Json::array();
  for (size_t i = 0; i < e.vectors.size(); ++i) {
    Json d = Json::object();
    d["object"] = "embedding";
    d["index"] = i;
    if (base64) {
      const auto& v = e.vectors[i];
      std::string bytes(v.size() * 4, '\0');
      std::memcpy(bytes.data(), v.data(), bytes.size());  // little-endian float32, as OpenAI's
      std::string out;
      for (size_t k = 0; k < bytes.size(); k += 3) {
        const uint32_t n = (static_cast<uint8_t>(bytes[k]) << 16) |
                           (k + 1 < bytes.size() ? static_cast<uint8_t>(bytes[k + 1]) << 8 : 0) |
                           (k + 2 < bytes.size() ? static_cast<uint8_t>(bytes[k + 2]) : 0);
        out += kB64[(n >> 18) & 63];
        out += kB64[(n >> 12) & 63];
        out += k + 1 < bytes.size() ? kB64[(n >> 6) & 63] : '=';
        out += k + 2 < bytes.size() ? kB64[n & 63] : '=';
      }
      d["embedding"] = out;
    } else {
      d["embedding"] = e.vectors[i];
    }
    data.push_back(std::move(d));
  }
  Json j = Json::object();
  j["object"] = "list";
  j["data"] = std::move(data);
  j["model"] = model;
  j["usage"] = {{"prompt_tokens", e.tokens}, {"total_tokens", e.tokens}};
  return j;
}

Json model_object(const std::string& id, int64_t created) {
  Json j = Json::object();
  j["id"] = id;
  j["object"] = "model";
  j["created"] = created;
  j["owned_by"] = "library";
  // Anthropic's ModelInfo, for its SDK's models.list() on the same route.
  j["type"] = "model";
  j["display_name"] = id;
  j["created_at"] = ollama::rfc3339_nano(ollama::Clock::time_point(std::chrono::seconds(created)));
  return j;
}

Json models_list(Json data) {
  Json j = Json::object();
  j["object"] = "list";
  // Anthropic's page of models: the whole list in one page.
  j["first_id"] = data.empty() ? Json() : data.front()["id"];
  j["last_id"] = data.empty() ? Json() : data.back()["id"];
  j["has_more"] = false;
  j["data"] = std::move(data);
  return j;
}

}  // namespace hearth::server::openai
