// Test and benchmark code only: the schema the grammar's tests and benchmarks
// constrain documents to: bounded strings, a bounded integer, an enum, a
// boolean, an optional string and a bounded array of bounded strings.
#pragma once

#include <nlohmann/json.hpp>

namespace hearth::grammar::test {

inline const nlohmann::ordered_json& person_schema() {
  static const auto schema = nlohmann::ordered_json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 12},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "role": {"enum": ["admin", "user", "guest"]},
    "active": {"type": "boolean"},
    "nickname": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3}
  },
  "required": ["name", "age", "role", "active", "tags"]
})");
  return schema;
}

}  // namespace hearth::grammar::test
