#include "store/name.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace hearth::store {

namespace {

constexpr size_t kMaxPathPart = 255;  // NAME_MAX: each part becomes a file or folder name

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A printable rendering of user input for error messages (no control bytes).
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw InvalidName("invalid model name '" + shown(text) + "': " + why);
}

void check_part(std::string_view text, std::string_view part, const char* what, size_t max_len) {
  if (part.empty()) bad(text, std::string("the ") + what + " is empty");
  if (part.size() > max_len)
    bad(text,
        std::string("the ") + what + " is longer than " + std::to_string(max_len) + " characters");
  if (!alnum(part[0])) bad(text, std::string("the ") + what + " must start with a letter or digit");
  for (const char c : part)
    if (!alnum(c) && c != '_' && c != '-' && c != '.')
      bad(text, std::string("the ") + what + " may hold only letters, digits, '_', '-' and '.'");
}

void check_host(std::string_view text, std::string_view host) {
  std::string_view name = host, port;
  if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      bad(text, "the host's port must be a number");
  }
  // The host (with its port) is a folder of the store, and a file name holds
  // at most 255 bytes (Ollama allows 350, which no folder can hold).
  check_part(text, name, "host", kMaxPathPart);
  if (host.size() > kMaxPathPart)
    bad(text, "the host is longer than " + std::to_string(kMaxPathPart) + " characters");
}

}  // namespace

std::string ModelName::display() const {
  if (host == kDefaultHost) {
    if (ns == kDefaultNamespace) return model + ":" + tag;
    return ns + "/" + model + ":" + tag;
  }
  return full();
}

std::string ModelName::full() const { return host + "/" + ns + "/" + model + ":" + tag; }

std::string ModelName::key() const { return ascii_lower(full()); }

std::string ModelName::manifest_path() const {
  return "manifests/" + host + "/" + ns + "/" + model + "/" + tag;
}

ModelName parse_name(std::string_view text) {
  if (text.empty()) bad(text, "it is empty");
  if (text.size() > kMaxPathPart + 80 + 80 + 80 + 3) bad(text, "it is too long");
  // The tag follows the last ':' after the last '/' (a host's ":port" comes before a '/').
  const size_t slash = text.rfind('/');
  const size_t colon = text.rfind(':');
  std::string_view path = text, tag = kDefaultTag;
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    path = text.substr(0, colon);
    tag = text.substr(colon + 1);
    if (tag.empty()) bad(text, "the tag after ':' is empty");
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t next = path.find('/', start);
    parts.push_back(path.substr(start, next == std::string_view::npos ? next : next - start));
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  if (parts.size() > 3) bad(text, "expected [host/][namespace/]model[:tag], found too many '/'");
  ModelName n;
  n.host = parts.size() == 3 ? std::string(parts[0]) : std::string(kDefaultHost);
  n.ns = parts.size() >= 2 ? std::string(parts[parts.size() - 2]) : std::string(kDefaultNamespace);
  n.model = std::string(parts.back());
  n.tag = std::string(tag);
  if (parts.size() == 3) check_host(text, n.host);
  check_part(text, n.ns, "namespace", 80);
  check_part(text, n.model, "model", 80);
  check_part(text, n.tag, "tag", 80);
  return n;
}

bool is_valid_name(std::string_view text) {
  try {
    parse_name(text);
    return true;
  } catch (const InvalidName&) {
    return false;
  }
}

std::string parse_digest(std::string_view text) {
  const auto fail = [&](const std::string& why) -> std::string {
    throw InvalidName("invalid digest '" + shown(text) + "': " + why);
  };
  if (text.size() != 7 + 64 || !(text.substr(0, 7) == "sha256:" || text.substr(0, 7) == "sha256-"))
    return fail("expected sha256: followed by 64 lowercase hex digits");
  for (const char c : text.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return fail("expected 64 lowercase hex digits after sha256:");
  return "sha256:" + std::string(text.substr(7));
}

bool is_digest(std::string_view text) {
  try {
    parse_digest(text);
    return true;
  } catch (const InvalidName&) {
    return false;
  }
}

std::string blob_file_name(const std::string& digest) { return "sha256-" + digest.substr(7); }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace hearth::store
