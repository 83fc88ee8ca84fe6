// A GGUF metadata value: a scalar, a string, or an array of values of one type.
#pragma once

#include <cstdint>
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
  static Value of_array(ValueType elem_type, std::vector<Value> elems);

  ValueType type() const { return type_; }
  ValueType elem_type() const { return elem_type_; }  // arrays only
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::F32 || type_ == ValueType::F64; }

  // Numeric reads convert between integer widths and floats; they throw
  // std::runtime_error when the value is not numeric or does not fit.
  uint64_t as_uint() const;
  int64_t as_int() const;
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<Value>& as_array() const;

 private:
  ValueType type_ = ValueType::U8;
  ValueType elem_type_ = ValueType::U8;
  uint64_t u_ = 0;  // unsigned integers and bool
  int64_t i_ = 0;   // signed integers
  double f_ = 0;
  std::string s_;
  std::vector<Value> array_;
};

}  // namespace hearth::gguf
