// The one strict JSON parser for request bodies, shared by every API (Ollama,
// OpenAI, Anthropic). What it accepts is a JSON object that a careful client
// would send; anything else is a 400 naming what is wrong:
//   - an empty or all-blank body: "missing request body";
//   - nesting deeper than kMaxJsonDepth (checked by a scan of the bytes before
//     nlohmann parses, so no depth ever reaches a parser or a destructor);
//   - bytes that are not UTF-8 (overlong forms, surrogates, > U+10FFFF), and
//     \u escapes that are lone surrogates;
//   - NUL characters in strings (raw or \u0000): no prompt or name needs one,
//     and C interfaces further down would cut the text there;
//   - NaN, Infinity and numbers outside a double's range (1e400);
//   - duplicate keys in any object (which one wins differs between parsers);
//   - a top-level value that is not an object.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace hearth::server {

inline constexpr int kMaxJsonDepth = 64;  // arrays and objects, the outermost is 1

// A request body refused by parse_json_body; sent as {"error": what()} with `status`.
struct BadJson : std::runtime_error {
  explicit BadJson(const std::string& message) : std::runtime_error(message) {}
  int status = 400;
};

// Throws BadJson. Keys keep the client's order (a `format` schema's
// properties are generated in that order).
nlohmann::ordered_json parse_json_body(std::string_view body);

// A field of a parsed body, or nullptr when it is absent or null: every API
// reads a null as an absent field (as Go's encoding/json does for Ollama).
inline const nlohmann::ordered_json* find_field(const nlohmann::ordered_json& object,
                                                std::string_view key) {
  const auto it = object.find(std::string(key));
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace hearth::server
