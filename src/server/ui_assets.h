// The web UI's files, built into the program (ui/build.mjs generates the
// table from ui/ at build time): the server serves them from memory, never
// from the filesystem.
#pragma once

#include <span>
#include <string_view>

namespace hearth::server {

struct UiAsset {
  std::string_view path;          // "/ui/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted: "\"3e0e...\"" (a prefix of the SHA-256 of bytes)
  std::string_view bytes;
};

// Every file of the page; "/ui/index.html" is the page itself.
std::span<const UiAsset> ui_assets();

}  // namespace hearth::server
