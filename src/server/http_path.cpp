// Requests as the router and the guard see them: one normalised path, so
// "//api/chat" and "/api/./chat" are "/api/chat"; headers by name.
#include <cctype>
#include <string>
#include <vector>

#include "server/http.h"

namespace hearth::server {

std::optional<std::string> HttpRequest::header(const std::string& name, int* count) const {
  std::optional<std::string> v;
  int n = 0;
  for (const auto& [k, val] : headers)
    if (k == name) {
      if (!v) v = val;
      ++n;
    }
  if (count) *count = n;
  return v;
}

std::optional<std::string> normalize_path(const std::string& raw) {
  if (raw.empty() || raw[0] != '/') return std::nullopt;
  std::string decoded;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%') {
      if (i + 2 >= raw.size() || !std::isxdigit(static_cast<unsigned char>(raw[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(raw[i + 2])))
        return std::nullopt;
      decoded.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      decoded.push_back(raw[i]);
    }
  }
  if (decoded.find('\0') != std::string::npos) return std::nullopt;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= decoded.size()) {
    size_t j = decoded.find('/', i);
    if (j == std::string::npos) j = decoded.size();
    const std::string part = decoded.substr(i, j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  if (out.empty()) out.push_back('/');  // (not = "/": GCC 12 warns falsely, -Wrestrict)
  return out;
}

}  // namespace hearth::server
