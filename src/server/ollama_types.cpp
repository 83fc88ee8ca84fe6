#include "server/ollama_types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <variant>

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

// -------------------------------------------------------------- options table

enum class OptionKind { kInteger, kFloat, kBool, kStrings };

using OptionMember = std::variant<std::optional<int64_t> Options::*,
                                  std::optional<float> Options::*, std::optional<bool> Options::*,
                                  std::optional<std::vector<std::string>> Options::*>;

struct OptionField {
  std::string_view name;
  OptionMember member;
};

// Declaration order of Options, which is Ollama's order.
const std::array<OptionField, 20> kOptionFields = {{
    {"num_keep", &Options::num_keep},
    {"seed", &Options::seed},
    {"num_predict", &Options::num_predict},
    {"top_k", &Options::top_k},
    {"top_p", &Options::top_p},
    {"min_p", &Options::min_p},
    {"typical_p", &Options::typical_p},
    {"repeat_last_n", &Options::repeat_last_n},
    {"temperature", &Options::temperature},
    {"repeat_penalty", &Options::repeat_penalty},
    {"presence_penalty", &Options::presence_penalty},
    {"frequency_penalty", &Options::frequency_penalty},
    {"stop", &Options::stop},
    {"num_ctx", &Options::num_ctx},
    {"num_batch", &Options::num_batch},
    {"num_gpu", &Options::num_gpu},
    {"main_gpu", &Options::main_gpu},
    {"use_mmap", &Options::use_mmap},
    {"num_thread", &Options::num_thread},
    {"draft_num_predict", &Options::draft_num_predict},
}};

// Options Ollama once had and dropped; requests from older clients still send them.
constexpr std::array<std::string_view, 15> kRemovedOptions = {
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
    "penalize_newline",
    "tfs_z",
    "low_vram",
    "f16_kv",
    "vocab_only",
    "use_mlock",
    "numa",
    "logits_all",
    "embedding_only",
    "rope_frequency_base",
    "rope_frequency_scale",
    "num_gqa",
};

// Go's Options.FromMap: JSON numbers are float64 there, so an integer option
// takes any number and drops the fraction.
int64_t option_integer(const Json& v, std::string_view what, std::string_view name) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    return v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = std::trunc(v.get<double>());
    // 2^63 is the first double past int64's range.
    if (std::isfinite(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
      return static_cast<int64_t>(d);
  } else {
    throw WireError(fmt::format("{} \"{}\" must be an integer, got {}", what, name, v.type_name()));
  }
  throw WireError(fmt::format("{} \"{}\" is out of range: {}", what, name, v.dump()));
}

// ---------------------------------------------------------- number formats

// Go's strconv.Quote, for the printable UTF-8 that model parameters hold:
// escapes quotes, backslashes and control bytes; keeps other bytes as they are.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

// Go's %v of a float64: the shortest digits that read back the same, in
// exponent form when the exponent is < -4 or >= 6 (Go's 'g' with the shortest
// precision): 0.9 -> "0.9", 123456 -> "123456", 1e6 -> "1e+06", 1e-5 -> "1e-05".
std::string go_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  const int exp = std::stoi(sci.substr(e + 1));
  if (exp < -4 || exp >= 6) {
    return fmt::format("{}e{}{:02}", sci.substr(0, e), exp < 0 ? '-' : '+', std::abs(exp));
  }
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// A parameter value as Go's %#v prints the JSON-decoded value.
std::string go_value(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
      return go_quote(v.get_ref<const std::string&>());
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float:
      return go_float(v.get<double>());
    case Json::value_t::null:
      return "<nil>";
    default:
      return v.dump();
  }
}

// A float32 as the double whose shortest decimal is the float's shortest
// decimal, so that JSON shows 0.010071029 (as Go writes a float32), not
// 0.010071028769016266, and still reads back as the same float.
double float32_decimal(float f) {
  if (!std::isfinite(f)) return f;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = f;
  std::from_chars(buf, r.ptr, d);
  return d;
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

Nanos parse_go_duration(std::string_view text, std::string_view field) {
  auto fail = [&](std::string_view why) -> WireError {
    return WireError(
        fmt::format("invalid {} \"{}\": {} (expected a duration such as \"5m\", \"1h30m\", "
                    "\"300ms\", or a number of seconds)",
                    field, text, why));
  };
  constexpr uint64_t kLimit = uint64_t{1} << 63;  // |int64 min|
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Nanos::zero();
  if (s.empty()) throw fail("empty");
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s.front() == '.' || is_digit(s.front()))) throw fail("a number must come first");
    size_t i = 0;
    uint64_t whole = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (whole > kLimit / 10) throw fail("too large");
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kLimit) throw fail("too large");
    }
    const bool has_whole = i > 0;
    uint64_t frac = 0;
    double scale = 1;
    bool has_frac = false;
    if (i < s.size() && s[i] == '.') {
      const size_t start = ++i;
      bool overflow = false;
      for (; i < s.size() && is_digit(s[i]); ++i) {
        if (overflow || frac > (kLimit - 1) / 10) {
          overflow = true;  // digits past what fits change nothing; Go drops them too
          continue;
        }
        frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
      }
      has_frac = i > start;
    }
    if (!has_whole && !has_frac) throw fail("a number must come first");
    size_t u = i;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    const std::string_view unit_name = s.substr(i, u - i);
    if (unit_name.empty()) throw fail("missing unit");
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60 * uint64_t{1000000000};
    } else if (unit_name == "h") {
      unit = 3600 * uint64_t{1000000000};
    } else {
      throw fail(fmt::format("unknown unit \"{}\" (use ns, us, ms, s, m or h)", unit_name));
    }
    if (whole > kLimit / unit) throw fail("too large");
    whole *= unit;
    if (frac > 0) {
      whole +=
          static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(unit) / scale));
      if (whole > kLimit) throw fail("too large");
    }
    total += whole;
    if (total > kLimit) throw fail("too large");
    s.remove_prefix(u);
  }
  if (negative) return Nanos(static_cast<int64_t>(0 - total));  // wraps to int64 min at 2^63
  if (total > kLimit - 1) throw fail("too large");
  return Nanos(static_cast<int64_t>(total));
}

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

// ------------------------------------------------------------------- options

ParsedOptions parse_options(const Json& object, std::string_view what) {
  ParsedOptions out;
  if (object.is_null()) return out;
  if (!object.is_object())
    throw WireError(fmt::format("{}s must be an object, got {}", what, object.type_name()));
  for (const auto& item : object.items()) {
    // Named, not structured bindings: clang 14 (the fuzz build) cannot capture those.
    const std::string& key = item.key();
    const Json& value = item.value();
    const auto field = std::find_if(kOptionFields.begin(), kOptionFields.end(),
                                    [&](const OptionField& f) { return f.name == key; });
    if (field == kOptionFields.end()) {
      if (std::find(kRemovedOptions.begin(), kRemovedOptions.end(), key) == kRemovedOptions.end())
        out.unknown.push_back(key);
      continue;
    }
    if (value.is_null()) continue;
    Options& o = out.options;
    std::visit(
        [&](auto member) {
          using T = typename std::remove_reference_t<decltype(o.*member)>::value_type;
          if constexpr (std::is_same_v<T, int64_t>) {
            o.*member = option_integer(value, what, key);
          } else if constexpr (std::is_same_v<T, float>) {
            if (!value.is_number())
              throw WireError(
                  fmt::format("{} \"{}\" must be a number, got {}", what, key, value.type_name()));
            o.*member = static_cast<float>(value.get<double>());
          } else if constexpr (std::is_same_v<T, bool>) {
            if (!value.is_boolean())
              throw WireError(
                  fmt::format("{} \"{}\" must be a boolean, got {}", what, key, value.type_name()));
            o.*member = value.get<bool>();
          } else {
            if (!value.is_array())
              throw WireError(fmt::format("{} \"{}\" must be an array of strings, got {}", what,
                                          key, value.type_name()));
            std::vector<std::string> strings;
            for (const Json& s : value) {
              if (!s.is_string())
                throw WireError(
                    fmt::format("{} \"{}\" must be an array of strings, got an array holding a {}",
                                what, key, s.type_name()));
              strings.push_back(s.get<std::string>());
            }
            o.*member = std::move(strings);
          }
        },
        field->member);
  }
  return out;
}

Options merge_options(const Options& model, const Options& request) {
  Options out = model;
  for (const OptionField& f : kOptionFields) {
    std::visit(
        [&](auto member) {
          if (request.*member) out.*member = request.*member;
        },
        f.member);
  }
  return out;
}

Json to_json(const Options& options) {
  Json j = Json::object();
  for (const OptionField& f : kOptionFields) {
    std::visit(
        [&](auto member) {
          if (options.*member) j[std::string(f.name)] = *(options.*member);
        },
        f.member);
  }
  return j;
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

std::string rfc3339_nano(Clock::time_point t) {
  using namespace std::chrono;
  const auto ns = time_point_cast<nanoseconds>(t);
  const auto day = floor<days>(ns);
  const year_month_day ymd(day);
  const hh_mm_ss<nanoseconds> hms(ns - day);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (const int64_t sub = hms.subseconds().count(); sub != 0) {
    std::string frac = fmt::format("{:09}", sub);
    frac.erase(frac.find_last_not_of('0') + 1);
    out += '.';
    out += frac;
  }
  out += 'Z';
  return out;
}

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
