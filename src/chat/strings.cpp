// Python str semantics over UTF-8 bytes; case mapping comes from utf8proc.
#include "chat/strings.h"

#include <utf8proc.h>

#include <algorithm>

#include "chat/value.h"

namespace hearth::chat::detail {

namespace {

// Decodes the code point starting at s[k]; sets len to its byte length.
char32_t decode_at(std::string_view s, std::size_t k, std::size_t& len) {
  unsigned char c = static_cast<unsigned char>(s[k]);
  len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (k + len > s.size()) len = 1;
  if (len == 1) return c;
  char32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t j = 1; j < len; ++j)
    cp = (cp << 6) | (static_cast<unsigned char>(s[k + j]) & 0x3F);
  return cp;
}

template <typename F>
std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size();) {
    std::size_t len;
    char32_t cp = decode_at(s, k, len);
    utf8_append(out, f(cp, k));
    k += len;
  }
  return out;
}

char32_t up(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t low(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t ttl(char32_t c) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}
bool is_cased_letter(char32_t c) { return up(c) != c || low(c) != c || ttl(c) != c; }

}  // namespace

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<char32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_cp = [&](char32_t cp) {
    if (!chars) return is_py_space(cp);
    for (char32_t c : set)
      if (c == cp) return true;
    return false;
  };
  std::size_t b = 0, e = s.size();
  if (left)
    while (b < e) {
      std::size_t len;
      if (!strip_cp(decode_at(s, b, len))) break;
      b += len;
    }
  if (right)
    while (e > b) {
      std::size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      std::size_t len;
      if (!strip_cp(decode_at(s, start, len))) break;
      e = start;
    }
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep,
                                  std::int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) fail("ValueError: empty separator");
    std::size_t start = 0;
    while (maxsplit < 0 || static_cast<std::int64_t>(out.size()) < maxsplit) {
      std::size_t at = s.find(*sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  std::size_t k = 0;
  while (k < s.size()) {
    std::size_t len;
    while (k < s.size() && is_py_space(decode_at(s, k, len))) k += len;
    if (k >= s.size()) break;
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) >= maxsplit) {
      out.emplace_back(s.substr(k));  // Python keeps the remainder's trailing whitespace
      return out;
    }
    std::size_t start = k;
    while (k < s.size() && !is_py_space(decode_at(s, k, len))) k += len;
    out.emplace_back(s.substr(start, k - start));
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep,
                                   std::int64_t maxsplit) {
  if (maxsplit < 0 || !sep) return py_split(s, sep, maxsplit);
  if (sep->empty()) fail("ValueError: empty separator");
  std::vector<std::string> out;
  std::size_t end = s.size();
  while (static_cast<std::int64_t>(out.size()) < maxsplit) {
    if (end < sep->size()) break;
    std::size_t at = s.rfind(*sep, end - sep->size());
    if (at == std::string_view::npos) break;
    // Collected back to front and reversed once: inserting at the front was
    // quadratic (minutes for 100000 parts).
    out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
    end = at;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    char c = s[k];
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
      out.emplace_back(s.substr(start, k - start));
      if (c == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ++k;
      start = k + 1;
    }
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

std::string py_upper(std::string_view s) {
  return map_cps(s, [](char32_t c, std::size_t) { return up(c); });
}

std::string py_lower(std::string_view s) {
  return map_cps(s, [](char32_t c, std::size_t) { return low(c); });
}

std::string py_capitalize(std::string_view s) {
  return map_cps(s, [](char32_t c, std::size_t k) { return k == 0 ? ttl(c) : low(c); });
}

std::string py_title(std::string_view s) {
  bool prev_cased = false;
  return map_cps(s, [&](char32_t c, std::size_t) {
    char32_t r = prev_cased ? low(c) : ttl(c);
    prev_cased = is_cased_letter(c);
    return r;
  });
}

std::string jinja_title(std::string_view s) {
  // "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s({\[<]+)", s) if w)
  bool word_start = true;
  return map_cps(s, [&](char32_t c, std::size_t) {
    bool delim = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
    char32_t r = delim ? c : word_start ? up(c) : low(c);
    word_start = delim;
    return r;
  });
}

std::string py_replace(std::string_view s, std::string_view from, std::string_view to,
                       std::int64_t count, std::size_t max_bytes) {
  std::string out;
  std::int64_t done = 0;
  auto check = [&] {
    if (out.size() > max_bytes)
      fail("SecurityError: replace() result exceeds " + std::to_string(max_bytes) + " bytes");
  };
  if (from.empty()) {  // Python inserts `to` around every code point
    std::size_t k = 0;
    while (k <= s.size()) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k == s.size()) break;
      std::size_t len;
      decode_at(s, k, len);
      out += s.substr(k, len);
      k += len;
      check();
    }
    check();
    return out;
  }
  std::size_t start = 0;
  while (count < 0 || done < count) {
    std::size_t at = s.find(from, start);
    if (at == std::string_view::npos) break;
    out += s.substr(start, at - start);
    out += to;
    start = at + from.size();
    ++done;
    check();
  }
  out += s.substr(start);
  check();
  return out;
}

std::int64_t py_find(std::string_view s, std::string_view needle, bool reverse) {
  std::size_t at = reverse ? s.rfind(needle) : s.find(needle);
  if (at == std::string_view::npos) return -1;
  return static_cast<std::int64_t>(utf8_length(s.substr(0, at)));
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace hearth::chat::detail
