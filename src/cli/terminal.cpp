#include "cli/terminal.h"

#include <cstdio>

namespace hearth::cli {

bool c1_control_at(std::string_view s, size_t i) {
  return i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xc2 &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

std::string terminal_safe(std::string_view s, bool quote, size_t limit, bool lines) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    char buf[8];
    if (lines && (c == '\n' || c == '\t')) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (quote && (c == '"' || c == '\\')) {
      out += std::string("\\") + static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c1_control_at(s, i)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(s[++i]));
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void print_error(std::string_view message) {
  std::fprintf(stderr, "hearth: error: %s\n",
               terminal_safe(message, false, SIZE_MAX, /*lines=*/true).c_str());
}

}  // namespace hearth::cli
