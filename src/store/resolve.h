// Turns what a user typed as MODEL into a GGUF path: a path to a file, or a
// model name ("tiny-kjv" is the bundled model).
#pragma once

#include <string>

namespace hearth::store {

// Throws std::runtime_error naming the model and the places searched.
std::string resolve_model(const std::string& model);

// The folder of bundled models: $HEARTH_MODELS, else <exe>/../models or
// <exe>/models, else the source tree's models/.
std::string bundled_models_dir();

}  // namespace hearth::store
