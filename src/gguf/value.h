// A GGUF metadata value: a scalar, a string, or an array of values of one type.
//
// Arrays are stored compactly (numbers packed as on disk, strings as strings),
// so a file's metadata never costs more than a few times its size in memory:
// a vocabulary of 32,000 tokens is one array of strings, not 32,000 Values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gguf/types.h"

namespace hearth::gguf {

class Value {
 public:
  Value() = default;
  static Value of_uint(ValueType type, uint64_t v);
  static Value of_int(ValueType type, int64_t v);
  static Value of_float(ValueType type, double v);
  static Value of_bool(bool v);
  static Value of_string(std::string v);
  // Every element must have elem_type (throws std::invalid_argument otherwise);
  // nested arrays are not supported (GGUF readers do not accept them either).
  static Value of_array(ValueType elem_type, const std::vector<Value>& elems);
  static Value of_strings(std::vector<std::string> elems);
  // `packed` holds the elements little-endian, value_type_size(elem_type) bytes each.
  static Value of_packed(ValueType elem_type, std::vector<uint8_t> packed);

  ValueType type() const { return type_; }
  ValueType elem_type() const { return elem_type_; }  // arrays only
  bool is_integer() const { return is_integer_type(type_); }
  bool is_float() const { return type_ == ValueType::F32 || type_ == ValueType::F64; }

  // Numeric reads convert between integer widths and floats; they throw
  // std::runtime_error when the value is not numeric or does not fit.
  uint64_t as_uint() const;
  int64_t as_int() const;
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;

  // Arrays (std::runtime_error on a non-array).
  uint64_t array_size() const;
  Value at(uint64_t i) const;                      // element i as a scalar Value (a copy)
  const std::string& string_at(uint64_t i) const;  // arrays of strings only
  std::span<const uint8_t> packed() const;         // arrays of numbers/bools only
  std::vector<Value> as_array() const;             // every element: a copy, O(n)

  // Bytes of one encoded element of a fixed-size type (0 for STRING and ARRAY).
  static uint32_t value_type_size(ValueType type);
  static bool is_integer_type(ValueType type);

 private:
  void require_array() const;

  ValueType type_ = ValueType::U8;
  ValueType elem_type_ = ValueType::U8;
  uint64_t u_ = 0;  // unsigned integers and bool
  int64_t i_ = 0;   // signed integers
  double f_ = 0;
  std::string s_;
  std::vector<uint8_t> packed_;       // arrays of fixed-size elements
  std::vector<std::string> strings_;  // arrays of strings
};

}  // namespace hearth::gguf
