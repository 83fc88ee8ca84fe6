// ggml tensor types and GGUF metadata value types: the numbering is GGUF's on-disk format.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth::gguf {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct TypeTraits {
  std::string_view name;  // lower case, as users type it: "q4_0", "f16"
  uint32_t block_size;    // weights per block (1 for float types)
  uint32_t block_bytes;   // bytes per block
};

// nullptr for an id hearth does not know.
const TypeTraits* type_traits(TensorType type);
inline const TypeTraits* type_traits(uint32_t id) {
  return type_traits(static_cast<TensorType>(id));
}
std::string_view type_name(TensorType type);                      // "unknown" for an unknown id
std::optional<TensorType> type_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n weights; n must be a multiple of the block size.
inline uint64_t row_bytes(TensorType type, uint64_t n) {
  const TypeTraits* t = type_traits(type);
  return n / t->block_size * t->block_bytes;
}

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view value_type_name(ValueType type);  // "unknown" for an unknown id

}  // namespace hearth::gguf
