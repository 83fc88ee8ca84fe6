#include "store/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "store/name.h"

namespace hearth::store {

namespace {

Layer parse_layer(const nlohmann::json& j, const std::string& where, const std::string& field) {
  const auto fail = [&](const std::string& why) -> Layer {
    throw std::runtime_error("manifest '" + where + "': " + field + ": " + why);
  };
  if (!j.is_object()) return fail("not an object");
  Layer l;
  if (!j.contains("mediaType") || !j["mediaType"].is_string()) return fail("no mediaType");
  l.media_type = j["mediaType"];
  if (!j.contains("digest") || !j["digest"].is_string()) return fail("no digest");
  try {
    l.digest = parse_digest(j["digest"].get<std::string>());
  } catch (const InvalidName& e) {
    return fail(e.what());
  }
  if (!j.contains("size") || !j["size"].is_number_unsigned()) return fail("no size");
  l.size = j["size"];
  return l;
}

nlohmann::json layer_json(const Layer& l) {
  return {{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}};
}

}  // namespace

const Layer* Manifest::find(std::string_view media_type) const {
  for (const Layer& l : layers)
    if (l.media_type == media_type) return &l;
  return nullptr;
}

void Manifest::set(Layer layer) {
  for (auto it = layers.begin(); it != layers.end(); ++it)
    if (it->media_type == layer.media_type) {
      *it = std::move(layer);
      const std::string type = it->media_type;
      layers.erase(std::remove_if(it + 1, layers.end(),
                                  [&](const Layer& l) { return l.media_type == type; }),
                   layers.end());
      return;
    }
  layers.push_back(std::move(layer));
}

void Manifest::erase(std::string_view media_type) {
  layers.erase(std::remove_if(layers.begin(), layers.end(),
                              [&](const Layer& l) { return l.media_type == media_type; }),
               layers.end());
}

std::string Manifest::to_json() const {
  nlohmann::json j = {{"schemaVersion", 2}, {"mediaType", media::kManifest}};
  j["config"] = layer_json(config);
  j["layers"] = nlohmann::json::array();
  for (const Layer& l : layers) j["layers"].push_back(layer_json(l));
  return j.dump(2) + "\n";
}

Manifest Manifest::parse(std::string_view text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw std::runtime_error("manifest '" + where + "': not a JSON object");
  if (!j.contains("schemaVersion") || j["schemaVersion"] != 2)
    throw std::runtime_error("manifest '" + where + "': schemaVersion is not 2");
  Manifest m;
  if (!j.contains("config")) throw std::runtime_error("manifest '" + where + "': no config");
  m.config = parse_layer(j["config"], where, "config");
  if (!j.contains("layers") || !j["layers"].is_array())
    throw std::runtime_error("manifest '" + where + "': no layers");
  for (size_t i = 0; i < j["layers"].size(); ++i)
    m.layers.push_back(parse_layer(j["layers"][i], where, "layers[" + std::to_string(i) + "]"));
  return m;
}

}  // namespace hearth::store
