#include "server/ollama_types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <system_error>
#include <variant>

#include "server/go_format.h"
#include "server/json_body.h"

namespace hearth::server::ollama {
namespace {

// ------------------------------------------------------------ field access

// `"prompt" must be a string, got number`; `path` is the field's place in the
// body ("messages[2].content").
[[noreturn]] void wrong_type(std::string_view path, std::string_view expected, const Json& got) {
  throw WireError(fmt::format("field \"{}\" must be {}, got {}", path, expected, got.type_name()));
}

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

std::optional<std::string> get_string(const Json& o, std::string_view key,
                                      std::string_view prefix = {}) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(join(prefix, key), "a string", *v);
  return v->get<std::string>();
}

std::string string_or_empty(const Json& o, std::string_view key, std::string_view prefix = {}) {
  return get_string(o, key, prefix).value_or("");
}

std::optional<bool> get_bool(const Json& o, std::string_view key, std::string_view prefix = {}) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(join(prefix, key), "a boolean", *v);
  return v->get<bool>();
}

// A JSON integer (Go's encoding/json refuses 1.5 or 1.0 for an int field).
int64_t as_integer(const Json& v, std::string_view path) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw WireError(fmt::format("field \"{}\" is out of range: {}", path, u));
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  wrong_type(path, "an integer", v);
}

std::optional<int64_t> get_integer(const Json& o, std::string_view key,
                                   std::string_view prefix = {}) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  return as_integer(*v, join(prefix, key));
}

const Json* get_array(const Json& o, std::string_view key, std::string_view prefix = {}) {
  const Json* v = find_field(o, key);
  if (v && !v->is_array()) wrong_type(join(prefix, key), "an array", *v);
  return v;
}

const Json* get_object(const Json& o, std::string_view key, std::string_view prefix = {}) {
  const Json* v = find_field(o, key);
  if (v && !v->is_object()) wrong_type(join(prefix, key), "an object", *v);
  return v;
}

void require_object(const Json& body) {
  if (!body.is_object())
    throw WireError(fmt::format("request body must be a JSON object, got {}", body.type_name()));
}

// `model`, else the deprecated `name`; blank is "model is required" (Ollama's
// message for /api/chat, /api/show, /api/delete and /api/push).
std::string required_model(const Json& body, bool accept_name) {
  std::string model = string_or_empty(body, "model");
  if (accept_name && model.empty()) model = string_or_empty(body, "name");
  const bool blank = std::all_of(model.begin(), model.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  });
  if (blank) throw WireError("model is required");
  return model;
}

[[noreturn]] void refuse_images(std::string_view model) {
  throw WireError(
      fmt::format("\"{}\" does not support images: hearth runs text-only models", model));
}

// `images`: an array of base64 strings; hearth refuses any.
void check_images(const Json& o, std::string_view prefix, std::string_view model) {
  const Json* images = get_array(o, "images", prefix);
  if (!images) return;
  for (size_t i = 0; i < images->size(); ++i) {
    if (!(*images)[i].is_string())
      wrong_type(fmt::format("{}[{}]", join(prefix, "images"), i), "a base64 string", (*images)[i]);
  }
  if (!images->empty()) refuse_images(model);
}

// ---------------------------------------------------------- shared fields

Format parse_format(const Json& body) {
  Format f;
  const Json* v = find_field(body, "format");
  if (!v || (v->is_string() && v->get_ref<const std::string&>().empty())) return f;
  if (v->is_string() && v->get_ref<const std::string&>() == "json") {
    f.kind = Format::Kind::kJson;
    return f;
  }
  if (v->is_object()) {
    f.kind = Format::Kind::kSchema;
    f.schema = *v;
    return f;
  }
  throw WireError(fmt::format("invalid format: {}; expected \"json\" or a valid JSON Schema object",
                              v->dump()));
}

std::optional<Think> parse_think(const Json& body) {
  const Json* v = find_field(body, "think");
  if (!v) return std::nullopt;
  if (v->is_boolean()) return Think{v->get<bool>(), ""};
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s == "high" || s == "medium" || s == "low" || s == "max") return Think{true, s};
    throw WireError(fmt::format(
        "invalid think value: \"{}\" (must be \"high\", \"medium\", \"low\", \"max\", true, or "
        "false)",
        s));
  }
  throw WireError(fmt::format(
      "think must be a boolean or a string (\"high\", \"medium\", \"low\", \"max\"), got {}",
      v->type_name()));
}

std::optional<KeepAlive> parse_keep_alive_field(const Json& body) {
  const Json* v = find_field(body, "keep_alive");
  if (!v) return std::nullopt;
  return parse_keep_alive(*v);
}

int64_t parse_top_logprobs(const Json& body) {
  const int64_t n = get_integer(body, "top_logprobs").value_or(0);
  if (n < 0 || n > 20) throw WireError("top_logprobs must be between 0 and 20");
  return n;
}

ParsedOptions parse_options_field(const Json& body) {
  const Json* v = find_field(body, "options");
  if (!v) return {};
  return parse_options(*v, "option");
}

ToolCall parse_tool_call(const Json& v, const std::string& path) {
  if (!v.is_object()) wrong_type(path, "an object", v);
  ToolCall call;
  call.id = string_or_empty(v, "id", path);
  const std::string fpath = join(path, "function");
  const Json* function = get_object(v, "function", path);
  if (!function) throw WireError(fmt::format("field \"{}\" is required", fpath));
  call.index = get_integer(*function, "index", fpath).value_or(0);
  call.name = string_or_empty(*function, "name", fpath);
  if (const Json* args = get_object(*function, "arguments", fpath)) call.arguments = *args;
  return call;
}

std::vector<Message> parse_messages(const Json& body, std::string_view model) {
  std::vector<Message> out;
  const Json* messages = get_array(body, "messages");
  if (!messages) return out;
  out.reserve(messages->size());
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    const std::string path = fmt::format("messages[{}]", i);
    if (!m.is_object()) wrong_type(path, "an object", m);
    Message msg;
    msg.role = string_or_empty(m, "role", path);
    std::transform(msg.role.begin(), msg.role.end(), msg.role.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    msg.content = string_or_empty(m, "content", path);
    msg.thinking = string_or_empty(m, "thinking", path);
    check_images(m, path, model);
    if (const Json* calls = get_array(m, "tool_calls", path)) {
      for (size_t j = 0; j < calls->size(); ++j)
        msg.tool_calls.push_back(
            parse_tool_call((*calls)[j], fmt::format("{}.tool_calls[{}]", path, j)));
    }
    msg.tool_name = string_or_empty(m, "tool_name", path);
    msg.tool_call_id = string_or_empty(m, "tool_call_id", path);
    out.push_back(std::move(msg));
  }
  return out;
}

// `files` / `adapters` of /api/create: {relative file name: "sha256:..."}.
std::vector<std::pair<std::string, std::string>> parse_file_map(const Json& body,
                                                                std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  const Json* files = get_object(body, key);
  if (!files) return out;
  for (const auto& [name, digest] : files->items()) {
    const std::string path = fmt::format("{}.{}", key, name);
    if (!digest.is_string()) wrong_type(path, "a digest string", digest);
    // Go's fs.ValidPath: relative, no empty, "." or ".." elements.
    bool valid = !name.empty() && name.front() != '/' && name.back() != '/';
    for (size_t start = 0; valid && start <= name.size();) {
      const size_t end = std::min(name.find('/', start), name.size());
      const std::string_view elem(name.data() + start, end - start);
      valid = !elem.empty() && elem != "." && elem != "..";
      start = end + 1;
    }
    if (!valid) throw WireError(fmt::format("file path must be relative: \"{}\"", name));
    if (digest.get_ref<const std::string&>().empty())
      throw WireError(fmt::format("invalid digest format for \"{}\"", name));
    out.emplace_back(name, digest.get<std::string>());
  }
  return out;
}

Json details_json(const ModelDetails& d) {
  Json j = Json::object();
  j["parent_model"] = d.parent_model;
  j["format"] = d.format;
  j["family"] = d.family;
  j["families"] = d.families;
  j["parameter_size"] = d.parameter_size;
  j["quantization_level"] = d.quantization_level;
  return j;
}

void put_stats(Json& j, const GenerateStats& s) {
  j["total_duration"] = s.total.count();
  j["load_duration"] = s.load.count();
  j["prompt_eval_count"] = s.prompt_eval_count;
  j["prompt_eval_duration"] = s.prompt_eval.count();
  j["eval_count"] = s.eval_count;
  j["eval_duration"] = s.eval.count();
}

Json head(std::string_view model, Clock::time_point created) {
  Json j = Json::object();
  j["model"] = model;
  j["created_at"] = rfc3339_nano(created);
  return j;
}

Json assistant(std::string_view content) {
  Json m = Json::object();
  m["role"] = "assistant";
  m["content"] = content;
  return m;
}

}  // namespace

// ---------------------------------------------------------------- body

Json parse_body(std::string_view body) {
  try {
    return server::parse_json_body(body);
  } catch (const server::BadJson& e) {
    throw WireError(e.what(), e.status);
  }
}

// ---------------------------------------------------------------- keep_alive

KeepAlive parse_keep_alive(const Json& value) {
  if (value.is_number()) {
    const double seconds = value.get<double>();
    if (seconds < 0) return KeepAlive::forever();
    const double ns = seconds * 1e9;
    if (!(ns < 9223372036854775808.0)) return KeepAlive::forever();  // past int64 nanoseconds
    return KeepAlive::after(Nanos(static_cast<int64_t>(ns)));
  }
  if (value.is_string()) return KeepAlive::after(parse_go_duration(value.get<std::string>()));
  throw WireError(fmt::format(
      "keep_alive must be a duration string such as \"5m\" or a number of seconds, got {}",
      value.type_name()));
}

// --------------------------------------------------------------- requests

GenerateRequest parse_generate_request(const Json& body) {
  require_object(body);
  GenerateRequest r;
  r.model = required_model(body, false);
  r.prompt = string_or_empty(body, "prompt");
  r.suffix = string_or_empty(body, "suffix");
  r.system = string_or_empty(body, "system");
  r.template_ = string_or_empty(body, "template");
  if (const Json* context = get_array(body, "context")) {
    r.context.reserve(context->size());
    for (size_t i = 0; i < context->size(); ++i) {
      const std::string path = fmt::format("context[{}]", i);
      const int64_t t = as_integer((*context)[i], path);
      if (t < std::numeric_limits<int32_t>::min() || t > std::numeric_limits<int32_t>::max())
        throw WireError(fmt::format("field \"{}\" is not a token id: {}", path, t));
      r.context.push_back(static_cast<int32_t>(t));
    }
  }
  r.stream = get_bool(body, "stream").value_or(true);
  r.raw = get_bool(body, "raw").value_or(false);
  r.format = parse_format(body);
  check_images(body, "", r.model);
  auto options = parse_options_field(body);
  r.options = std::move(options.options);
  r.unknown_options = std::move(options.unknown);
  r.keep_alive = parse_keep_alive_field(body);
  r.think = parse_think(body);
  r.truncate = get_bool(body, "truncate");
  r.shift = get_bool(body, "shift");
  r.logprobs = get_bool(body, "logprobs").value_or(false);
  r.top_logprobs = parse_top_logprobs(body);
  return r;
}

ChatRequest parse_chat_request(const Json& body) {
  require_object(body);
  ChatRequest r;
  r.model = required_model(body, false);
  r.messages = parse_messages(body, r.model);
  if (const Json* tools = get_array(body, "tools")) {
    for (size_t i = 0; i < tools->size(); ++i) {
      if (!(*tools)[i].is_object())
        wrong_type(fmt::format("tools[{}]", i), "an object", (*tools)[i]);
    }
    r.tools = *tools;
  }
  if (const auto it = body.find("tool_choice"); it != body.end()) r.tool_choice = *it;
  r.stream = get_bool(body, "stream").value_or(true);
  r.format = parse_format(body);
  auto options = parse_options_field(body);
  r.options = std::move(options.options);
  r.unknown_options = std::move(options.unknown);
  r.keep_alive = parse_keep_alive_field(body);
  r.think = parse_think(body);
  r.truncate = get_bool(body, "truncate");
  r.shift = get_bool(body, "shift");
  r.logprobs = get_bool(body, "logprobs").value_or(false);
  r.top_logprobs = parse_top_logprobs(body);
  return r;
}

EmbedRequest parse_embed_request(const Json& body) {
  require_object(body);
  EmbedRequest r;
  r.model = required_model(body, false);
  if (const Json* input = find_field(body, "input")) {
    if (input->is_string()) {
      if (!input->get_ref<const std::string&>().empty())
        r.input.push_back(input->get<std::string>());
    } else if (input->is_array()) {
      for (size_t i = 0; i < input->size(); ++i) {
        if (!(*input)[i].is_string())
          throw WireError(
              fmt::format("invalid input type: field \"input[{}]\" must be a string, got {}", i,
                          (*input)[i].type_name()));
        r.input.push_back((*input)[i].get<std::string>());
      }
    } else {
      throw WireError(fmt::format(
          "invalid input type: field \"input\" must be a string or an array of strings, got {}",
          input->type_name()));
    }
  }
  r.truncate = get_bool(body, "truncate").value_or(true);
  // Ollama ignores dimensions <= 0.
  if (const auto d = get_integer(body, "dimensions"); d && *d > 0) r.dimensions = d;
  auto options = parse_options_field(body);
  r.options = std::move(options.options);
  r.unknown_options = std::move(options.unknown);
  r.keep_alive = parse_keep_alive_field(body);
  return r;
}

EmbeddingsRequest parse_embeddings_request(const Json& body) {
  require_object(body);
  EmbeddingsRequest r;
  r.model = required_model(body, false);
  r.prompt = string_or_empty(body, "prompt");
  auto options = parse_options_field(body);
  r.options = std::move(options.options);
  r.unknown_options = std::move(options.unknown);
  r.keep_alive = parse_keep_alive_field(body);
  return r;
}

ShowRequest parse_show_request(const Json& body) {
  require_object(body);
  ShowRequest r;
  r.model = required_model(body, true);
  r.verbose = get_bool(body, "verbose").value_or(false);
  r.system = string_or_empty(body, "system");
  get_string(body, "template");  // deprecated and ignored, but still type-checked
  return r;
}

CopyRequest parse_copy_request(const Json& body) {
  require_object(body);
  CopyRequest r;
  r.source = string_or_empty(body, "source");
  r.destination = string_or_empty(body, "destination");
  if (r.source.empty()) throw WireError("source \"\" is invalid");
  if (r.destination.empty()) throw WireError("destination \"\" is invalid");
  return r;
}

DeleteRequest parse_delete_request(const Json& body) {
  require_object(body);
  return DeleteRequest{required_model(body, true)};
}

CreateRequest parse_create_request(const Json& body) {
  require_object(body);
  CreateRequest r;
  r.model = required_model(body, true);
  r.from = string_or_empty(body, "from");
  r.files = parse_file_map(body, "files");
  r.adapters = parse_file_map(body, "adapters");
  r.template_ = get_string(body, "template");
  if (const Json* license = find_field(body, "license")) {
    std::vector<std::string> texts;
    if (license->is_string()) {
      texts.push_back(license->get<std::string>());
    } else if (license->is_array()) {
      for (size_t i = 0; i < license->size(); ++i) {
        if (!(*license)[i].is_string())
          wrong_type(fmt::format("license[{}]", i), "a string", (*license)[i]);
        texts.push_back((*license)[i].get<std::string>());
      }
    } else {
      wrong_type("license", "a string or an array of strings", *license);
    }
    r.license = std::move(texts);
  }
  r.system = get_string(body, "system");
  if (const Json* parameters = get_object(body, "parameters")) {
    parse_options(*parameters, "parameter");  // type errors are the client's: 400 now
    r.parameters = *parameters;
  }
  r.messages = parse_messages(body, r.model);
  r.quantize = string_or_empty(body, "quantize");
  if (r.quantize.empty()) r.quantize = string_or_empty(body, "quantization");
  r.stream = get_bool(body, "stream").value_or(true);
  return r;
}

PullRequest parse_pull_request(const Json& body) {
  require_object(body);
  PullRequest r;
  r.model = required_model(body, true);
  r.insecure = get_bool(body, "insecure").value_or(false);
  r.stream = get_bool(body, "stream").value_or(true);
  return r;
}

PushRequest parse_push_request(const Json& body) { return parse_pull_request(body); }

WireError registry_refusal(std::string_view operation, std::string_view model) {
  return WireError(fmt::format("cannot {} \"{}\": hearth has no model registry; import a GGUF "
                               "file with /api/create (files) or the hearth command instead",
                               operation, model),
                   501);
}

// --------------------------------------------------------------- responses

Json generate_chunk(std::string_view model, Clock::time_point created, std::string_view text) {
  Json j = head(model, created);
  j["response"] = text;
  j["done"] = false;
  return j;
}

Json generate_final(std::string_view model, Clock::time_point created, std::string_view response,
                    std::string_view done_reason, std::span<const int32_t> context,
                    const GenerateStats& stats) {
  Json j = head(model, created);
  j["response"] = response;
  j["done"] = true;
  j["done_reason"] = done_reason;
  if (!context.empty()) j["context"] = std::vector<int32_t>(context.begin(), context.end());
  put_stats(j, stats);
  return j;
}

Json generate_load(std::string_view model, Clock::time_point created,
                   std::string_view done_reason) {
  Json j = head(model, created);
  j["response"] = "";
  j["done"] = true;
  j["done_reason"] = done_reason;
  return j;
}

Json to_json(const Message& message) {
  Json m = Json::object();
  m["role"] = message.role;
  m["content"] = message.content;
  if (!message.thinking.empty()) m["thinking"] = message.thinking;
  if (!message.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& c : message.tool_calls) {
      Json call = Json::object();
      if (!c.id.empty()) call["id"] = c.id;
      Json function = Json::object();
      function["index"] = c.index;
      function["name"] = c.name;
      function["arguments"] = c.arguments;
      call["function"] = std::move(function);
      calls.push_back(std::move(call));
    }
    m["tool_calls"] = std::move(calls);
  }
  if (!message.tool_name.empty()) m["tool_name"] = message.tool_name;
  if (!message.tool_call_id.empty()) m["tool_call_id"] = message.tool_call_id;
  return m;
}

Json chat_chunk(std::string_view model, Clock::time_point created, std::string_view content) {
  Json j = head(model, created);
  j["message"] = assistant(content);
  j["done"] = false;
  return j;
}

Json chat_chunk(std::string_view model, Clock::time_point created, const Message& piece) {
  Json j = head(model, created);
  j["message"] = to_json(piece);
  j["done"] = false;
  return j;
}

Json chat_final(std::string_view model, Clock::time_point created, const Message& message,
                std::string_view done_reason, const GenerateStats& stats) {
  Json j = head(model, created);
  j["message"] = to_json(message);
  j["done"] = true;
  j["done_reason"] = done_reason;
  put_stats(j, stats);
  return j;
}

Json chat_load(std::string_view model, Clock::time_point created, std::string_view done_reason) {
  Json j = head(model, created);
  j["message"] = assistant("");
  j["done"] = true;
  j["done_reason"] = done_reason;
  return j;
}

Json embed_response(std::string_view model, std::span<const std::vector<float>> embeddings,
                    const EmbedStats& stats) {
  Json j = Json::object();
  j["model"] = model;
  Json all = Json::array();
  for (const auto& e : embeddings) {
    Json v = Json::array();
    for (const float f : e) v.push_back(float32_decimal(f));
    all.push_back(std::move(v));
  }
  j["embeddings"] = std::move(all);
  j["total_duration"] = stats.total.count();
  j["load_duration"] = stats.load.count();
  j["prompt_eval_count"] = stats.prompt_eval_count;
  return j;
}

Json embeddings_response(std::span<const float> embedding) {
  Json j = Json::object();
  Json v = Json::array();
  for (const float f : embedding) v.push_back(static_cast<double>(f));
  j["embedding"] = std::move(v);
  return j;
}

Json tags_response(std::span<const LocalModel> models) {
  Json list = Json::array();
  for (const LocalModel& m : models) {
    Json e = Json::object();
    e["name"] = m.name;
    e["model"] = m.name;
    e["modified_at"] = rfc3339_nano(m.modified_at);
    e["size"] = m.size;
    e["digest"] = m.digest;
    e["details"] = details_json(m.details);
    list.push_back(std::move(e));
  }
  Json j = Json::object();
  j["models"] = std::move(list);
  return j;
}

Json ps_response(std::span<const RunningModel> models) {
  Json list = Json::array();
  for (const RunningModel& m : models) {
    Json e = Json::object();
    e["name"] = m.name;
    e["model"] = m.name;
    e["size"] = m.size;
    e["digest"] = m.digest;
    e["details"] = details_json(m.details);
    e["expires_at"] = rfc3339_nano(m.expires_at.value_or(Clock::time_point::max()));
    e["size_vram"] = m.size_vram;
    e["context_length"] = m.context_length;
    Json queue = Json::object();
    queue["active"] = m.queue.active;
    queue["waiting"] = m.queue.waiting;
    e["queue"] = std::move(queue);
    list.push_back(std::move(e));
  }
  Json j = Json::object();
  j["models"] = std::move(list);
  return j;
}

Json show_response(const ModelInfo& info) {
  Json j = Json::object();
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put("license", info.license);
  put("modelfile", info.modelfile);
  put("parameters", info.parameters);
  put("template", info.template_);
  put("system", info.system);
  j["details"] = details_json(info.details);
  if (!info.messages.empty()) {
    Json messages = Json::array();
    for (const Message& m : info.messages) {
      Json e = Json::object();
      e["role"] = m.role;
      e["content"] = m.content;
      messages.push_back(std::move(e));
    }
    j["messages"] = std::move(messages);
  }
  j["model_info"] = info.model_info.is_object() ? info.model_info : Json::object();
  if (!info.tensors.empty()) {
    Json tensors = Json::array();
    for (const TensorInfo& t : info.tensors) {
      Json e = Json::object();
      e["name"] = t.name;
      e["type"] = t.type;
      e["shape"] = t.shape;
      tensors.push_back(std::move(e));
    }
    j["tensors"] = std::move(tensors);
  }
  if (!info.capabilities.empty()) j["capabilities"] = info.capabilities;
  j["modified_at"] = rfc3339_nano(info.modified_at);
  return j;
}

std::string format_parameters(const Json& parameters) {
  std::string out;
  if (!parameters.is_object()) return out;
  auto line = [&](const std::string& key, const Json& value) {
    if (!out.empty()) out += '\n';
    out += fmt::format("{:<30} {}", key, go_value(value));
  };
  for (const auto& [key, value] : parameters.items()) {
    if (value.is_array()) {
      for (const Json& v : value) line(key, v);
    } else {
      line(key, value);
    }
  }
  return out;
}

Json version_response(std::string_view version) {
  Json j = Json::object();
  j["version"] = version;
  return j;
}

Json error_response(std::string_view message) {
  Json j = Json::object();
  j["error"] = message;
  return j;
}

Json progress_response(std::string_view status, std::string_view digest, int64_t total,
                       int64_t completed) {
  Json j = Json::object();
  j["status"] = status;
  if (!digest.empty()) j["digest"] = digest;
  if (total != 0) j["total"] = total;
  if (completed != 0) j["completed"] = completed;
  return j;
}

}  // namespace hearth::server::ollama
