// Python's str methods on UTF-8 text (whitespace and case are Unicode-aware).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::detail {

// str.strip / lstrip / rstrip: `chars` null means whitespace.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep=None, maxsplit=-1); sep null splits on runs of whitespace.
std::vector<std::string> py_split(std::string_view s, const std::string* sep,
                                  std::int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep,
                                   std::int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);     // str.title()
std::string jinja_title(std::string_view s);  // the |title filter (splits on -, space, brackets)
// str.replace(old, new, count); `max_bytes` bounds the result (throws beyond).
std::string py_replace(std::string_view s, std::string_view from, std::string_view to,
                       std::int64_t count, std::size_t max_bytes);
// Code-point index of `needle` in s (-1 if absent), as str.find / str.rfind.
std::int64_t py_find(std::string_view s, std::string_view needle, bool reverse);
std::string html_escape(std::string_view s);

}  // namespace hearth::chat::detail
