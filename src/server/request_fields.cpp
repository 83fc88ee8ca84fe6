// The request fields that every API parses alike (inference.h): tool_choice,
// logit_bias, and the ids and log-probability entries of their replies. Apart
// from inference.cpp so that the API parsers link without the scheduler (the
// fuzz targets compile them alone).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "server/inference.h"
#include "server/json_body.h"
#include "server/server_impl.h"

namespace hearth::server {

using Json = ollama::Json;

namespace {
[[noreturn]] void bad_choice(const std::string& message) {
  HttpError e(400, message);
  e.param = "tool_choice";
  throw e;
}
std::optional<std::string> get_string(const Json& o, const char* key, const std::string& path) {
  const Json* v = find_field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad_choice(fmt::format("'{}' must be a string", path));
  return v->get<std::string>();
}
}  // namespace

ToolChoice parse_tool_choice(const Json* v) {
  ToolChoice tc;
  if (!v || v->is_null()) return tc;
  if (v->is_string()) {
    const auto s = v->get<std::string>();
    if (s == "auto") return tc;
    if (s == "none")
      tc.kind = ToolChoice::Kind::kNone;
    else if (s == "required")
      tc.kind = ToolChoice::Kind::kRequired;
    else
      bad_choice(
          fmt::format("'tool_choice' must be auto, none, required or a function, "
                      "got '{}'",
                      s.substr(0, 40)));
    return tc;
  }
  if (!v->is_object()) bad_choice("'tool_choice' must be a string or an object");
  // {type: "function", function: {name}} (chat) or {type: "function", name} (responses).
  tc.kind = ToolChoice::Kind::kNamed;
  if (const Json* fn = find_field(*v, "function"); fn && fn->is_object())
    tc.name = get_string(*fn, "name", "tool_choice.function.name").value_or("");
  else
    tc.name = get_string(*v, "name", "tool_choice.name").value_or("");
  if (tc.name.empty()) bad_choice("'tool_choice' must name a function");
  return tc;
}

std::string random_id(std::string_view prefix) {
  static constexpr std::string_view kChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kChars.size() - 1);
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id += kChars[pick(rng)];
  return id;
}

Json unsent_logprobs(const Choice& c) {
  if (!c.logprobs.is_array()) return nullptr;
  Json out = Json::array();
  for (size_t i = c.logprobs_streamed; i < c.logprobs.size(); ++i) out.push_back(c.logprobs[i]);
  return out;
}

std::vector<std::pair<int32_t, float>> parse_logit_bias(const Json& value, std::string_view field) {
  std::vector<std::pair<int32_t, float>> out;
  if (value.is_null()) return out;
  if (!value.is_object()) throw HttpError(400, fmt::format("{} must be an object", field));
  if (value.size() > 1024)
    throw HttpError(400, fmt::format("{} may name at most 1024 tokens", field));
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string& k = it.key();
    int64_t id = -1;
    const bool digits = !k.empty() && k.size() <= 9 && std::all_of(k.begin(), k.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (digits) id = std::stoll(k);
    if (id < 0)
      throw HttpError(400, fmt::format("{}: \"{}\" is not a token id", field, k.substr(0, 40)));
    if (!it.value().is_number())
      throw HttpError(400, fmt::format("{}: the bias of token {} must be a number", field, id));
    const double b = it.value().get<double>();
    if (!std::isfinite(b) || b < -100 || b > 100)
      throw HttpError(400,
                      fmt::format("{}: the bias of token {} must be in [-100, 100]", field, id));
    out.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  return out;
}

}  // namespace hearth::server
