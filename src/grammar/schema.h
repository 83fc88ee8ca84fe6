// Internal to src/grammar: JSON schema -> Grammar (json_matcher.h). The subset
// and the choices are documented in json_constraint.h.
#pragma once

#include <nlohmann/json.hpp>

#include "grammar/json_matcher.h"

namespace hearth::grammar::detail {

inline constexpr int kMaxSchemaDepth = 64;        // nested subschemas and $ref hops
inline constexpr size_t kMaxEnumValues = 100000;  // values of one enum
// Nodes of the compiled grammar: a reference is compiled once for each set of
// types a "type" beside a combinator leaves it, so a small schema could
// otherwise ask for many copies of a large one.
inline constexpr size_t kMaxSchemaNodes = 1u << 20;

// null or "json": any JSON object. Throws SchemaError.
Grammar compile_schema(const nlohmann::json& schema);
Grammar compile_schema(const nlohmann::ordered_json& schema);

}  // namespace hearth::grammar::detail
