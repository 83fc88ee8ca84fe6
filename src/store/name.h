// Model names as Ollama writes them: [host/][namespace/]model[:tag], with
// defaults registry.ollama.ai, library and latest. Every part is checked
// against Ollama's grammar, so no name can reach a path outside the store:
// each part starts with a letter or digit and holds only letters, digits,
// '_', '-' and '.' (the host may end in ":port"). Names match case-insensitively.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace hearth::store {

// A name, tag or digest that is not valid: the message names it and says why.
class InvalidName : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr std::string_view kDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kDefaultNamespace = "library";
inline constexpr std::string_view kDefaultTag = "latest";

struct ModelName {
  std::string host, ns, model, tag;  // all non-empty once parsed

  // The short form a user sees: "tiny-kjv:latest", "alice/foo:q4",
  // "example.com:5000/alice/foo:q4".
  std::string display() const;
  // The full form, "registry.ollama.ai/library/tiny-kjv:latest".
  std::string full() const;
  // The lower-cased full form: two names are the same model when keys are equal.
  std::string key() const;
  // manifests/<host>/<ns>/<model>/<tag>, relative to the store root.
  std::string manifest_path() const;
};

// Throws InvalidName.
ModelName parse_name(std::string_view text);
// `s` with A-Z lower-cased, whatever the locale: names, Modelfile keywords.
std::string ascii_lower(std::string_view s);
bool is_valid_name(std::string_view text);

// A blob digest, "sha256:<64 lowercase hex>" or "sha256-<64 lowercase hex>",
// returned as "sha256:<hex>". Throws InvalidName.
std::string parse_digest(std::string_view text);
bool is_digest(std::string_view text);
// "sha256:<hex>" -> "sha256-<hex>", the blob's file name (digest already parsed).
std::string blob_file_name(const std::string& digest);

}  // namespace hearth::store
