// An Ollama image manifest (Docker manifest v2): a config blob and layers,
// each a media type, a digest and a size. hearth adds one media type, a link
// to a GGUF recorded in place (`hearth import` without --copy).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::store {

namespace media {
inline constexpr std::string_view kManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kModel = "application/vnd.ollama.image.model";
inline constexpr std::string_view kTemplate = "application/vnd.ollama.image.template";
inline constexpr std::string_view kSystem = "application/vnd.ollama.image.system";
inline constexpr std::string_view kParams = "application/vnd.ollama.image.params";
inline constexpr std::string_view kMessages = "application/vnd.ollama.image.messages";
inline constexpr std::string_view kLicense = "application/vnd.ollama.image.license";
inline constexpr std::string_view kAdapter = "application/vnd.ollama.image.adapter";
inline constexpr std::string_view kProjector = "application/vnd.ollama.image.projector";
// hearth's own: a small JSON blob {path, size, mtime_ns, inode, dev, digest}
// naming a GGUF outside the store.
inline constexpr std::string_view kModelLink = "application/vnd.hearth.image.model.link";
}  // namespace media

struct Layer {
  std::string media_type;
  std::string digest;  // "sha256:<hex>", validated
  uint64_t size = 0;
};

struct Manifest {
  Layer config;
  std::vector<Layer> layers;

  // The first layer of that media type; nullptr when none.
  const Layer* find(std::string_view media_type) const;
  // Replaces every layer of that media type by `layer` (appended when none was there).
  void set(Layer layer);
  void erase(std::string_view media_type);

  std::string to_json() const;  // indented like Ollama's files
  // Throws std::runtime_error naming `where` and the field.
  static Manifest parse(std::string_view text, const std::string& where);
};

}  // namespace hearth::store
