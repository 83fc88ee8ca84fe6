// Turns what a user typed as MODEL into a GGUF path, and knows the models
// bundled with hearth ("tiny-kjv").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace hearth::store {

// MODEL is a path when it ends in ".gguf" or contains '/' (a file in the
// current folder never shadows a model name); otherwise, or when it has a '/'
// but names no file and is a valid name ("alice/foo:q4"), a name resolved through
// the store at Store::default_root(), bundled models included. Throws
// std::runtime_error naming the model and what is wrong.
std::string resolve_model(const std::string& model);
// The same, with what the store keeps of a named model (its template, system
// message, parameters and messages); a path gives a record of only gguf_path.
ModelRecord resolve_model_record(const std::string& model);

// The folder of bundled models: $HEARTH_MODELS, else <exe>/../models or
// <exe>/models, else the source tree's models/.
std::string bundled_models_dir();

// The bundled model names ("tiny-kjv"), and the file of one (lower-case
// model part, no tag); nullopt when `model` is not bundled.
std::vector<std::string> bundled_model_names();
std::optional<std::string> bundled_model_file(const std::string& model);
// The file's "sha256:<hex>", hashed once per process (per size and mtime).
std::string bundled_model_digest(const std::string& path);

}  // namespace hearth::store
