// Output formats a request can demand (Ollama's `format`, OpenAI's
// `response_format`): JSON that parses and matches a schema, by construction.
// The engine's side of src/grammar: a LogitConstraint factory for Generation.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/generation.h"
#include "engine/runtime.h"

namespace hearth::engine {

// A factory of constraints for `schema` (null or "json": any JSON object; else
// a JSON schema, properties generated in the order written). The schema is
// compiled here, once: throws grammar::SchemaError (a 400 for the API) when
// hearth cannot enforce it. Each call of the factory starts a fresh document.
std::function<std::unique_ptr<LogitConstraint>()> json_format(const Runtime& rt,
                                                              const nlohmann::ordered_json& schema);

}  // namespace hearth::engine
