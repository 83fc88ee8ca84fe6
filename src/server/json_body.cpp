#include "server/json_body.h"

#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

namespace hearth::server {
namespace {

using Json = nlohmann::ordered_json;

// The length of the UTF-8 sequence at s[i], or 0 when it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // U+D800..U+DFFF
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// One pass over the bytes before any parsing: valid UTF-8, and arrays and
// objects nested at most kMaxJsonDepth deep (brackets inside strings do not count).
void scan(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < body.size();) {
    const size_t n = utf8_length(body, i);
    if (n == 0) throw BadJson("request body is not valid UTF-8 (byte " + std::to_string(i) + ")");
    if (n == 1) {
      const char c = body[i];
      if (in_string) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > kMaxJsonDepth)
          throw BadJson("request body is nested deeper than " + std::to_string(kMaxJsonDepth) +
                        " levels");
      } else if (c == ']' || c == '}') {
        --depth;  // unbalanced brackets are the parser's to report
      }
    }
    i += n;
  }
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, ..." without its tag.
std::string without_tag(const char* what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    const auto end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return s;
}

}  // namespace

Json parse_json_body(std::string_view body) {
  const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) throw BadJson("missing request body");
  scan(body);
  // The keys seen so far in each object being parsed, innermost last.
  std::vector<std::unordered_set<std::string>> keys;
  const Json::parser_callback_t check = [&keys](int, Json::parse_event_t event, Json& v) {
    using E = Json::parse_event_t;
    switch (event) {
      case E::object_start:
        keys.emplace_back();
        break;
      case E::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case E::key: {
        const auto& k = v.get_ref<const std::string&>();
        if (k.find('\0') != std::string::npos) throw BadJson("a key contains a NUL character");
        if (!keys.empty() && !keys.back().insert(k).second)
          throw BadJson("duplicate key \"" + k + "\" in request body");
        break;
      }
      case E::value:
        if (v.is_number_float() && !std::isfinite(v.get<double>()))
          throw BadJson("a number in the request body is out of range");
        if (v.is_string() && v.get_ref<const std::string&>().find('\0') != std::string::npos)
          throw BadJson("a string in the request body contains a NUL character");
        break;
      default:
        break;
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(body, check);
  } catch (const Json::parse_error& e) {
    throw BadJson("request body is not valid JSON: " + without_tag(e.what()));
  } catch (const Json::out_of_range& e) {  // 1e400
    throw BadJson("a number in the request body is out of range: " + without_tag(e.what()));
  }
  if (!j.is_object())
    throw BadJson(std::string("request body must be a JSON object, got ") + j.type_name());
  return j;
}

}  // namespace hearth::server
