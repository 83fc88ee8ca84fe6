// How Go, Ollama's language, writes and reads values (go_format.h).
#include "server/go_format.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace hearth::server::ollama {

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

}  // namespace hearth::server::ollama
