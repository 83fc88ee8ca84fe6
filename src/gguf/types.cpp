#include "gguf/types.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace hearth::gguf {
namespace {

struct Entry {
  TensorType type;
  TypeTraits traits;
};

constexpr std::array kTypes = {
    Entry{TensorType::F32, {"f32", 1, 4}},       Entry{TensorType::F16, {"f16", 1, 2}},
    Entry{TensorType::BF16, {"bf16", 1, 2}},     Entry{TensorType::Q4_0, {"q4_0", 32, 18}},
    Entry{TensorType::Q4_1, {"q4_1", 32, 20}},   Entry{TensorType::Q5_0, {"q5_0", 32, 22}},
    Entry{TensorType::Q5_1, {"q5_1", 32, 24}},   Entry{TensorType::Q8_0, {"q8_0", 32, 34}},
    Entry{TensorType::Q8_1, {"q8_1", 32, 36}},   Entry{TensorType::Q2_K, {"q2_k", 256, 84}},
    Entry{TensorType::Q3_K, {"q3_k", 256, 110}}, Entry{TensorType::Q4_K, {"q4_k", 256, 144}},
    Entry{TensorType::Q5_K, {"q5_k", 256, 176}}, Entry{TensorType::Q6_K, {"q6_k", 256, 210}},
    Entry{TensorType::Q8_K, {"q8_k", 256, 292}},
};

}  // namespace

const TypeTraits* type_traits(TensorType type) {
  for (const Entry& e : kTypes)
    if (e.type == type) return &e.traits;
  return nullptr;
}

std::string_view type_name(TensorType type) {
  const TypeTraits* t = type_traits(type);
  return t ? t->name : "unknown";
}

std::optional<TensorType> type_from_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const Entry& e : kTypes)
    if (e.traits.name == lower) return e.type;
  return std::nullopt;
}

std::string_view value_type_name(ValueType type) {
  static constexpr std::array<std::string_view, 13> kNames = {
      "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
      "bool",  "string", "array",  "uint64", "int64",  "float64"};
  auto i = static_cast<uint32_t>(type);
  return i < kNames.size() ? kNames[i] : "unknown";
}

}  // namespace hearth::gguf
