#include "gguf/value.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace hearth::gguf {

Value Value::of_uint(ValueType type, uint64_t v) {
  Value r;
  r.type_ = type;
  r.u_ = v;
  return r;
}

Value Value::of_int(ValueType type, int64_t v) {
  Value r;
  r.type_ = type;
  r.i_ = v;
  return r;
}

Value Value::of_float(ValueType type, double v) {
  Value r;
  r.type_ = type;
  r.f_ = v;
  return r;
}

Value Value::of_bool(bool v) {
  Value r;
  r.type_ = ValueType::BOOL;
  r.u_ = v ? 1 : 0;
  return r;
}

Value Value::of_string(std::string v) {
  Value r;
  r.type_ = ValueType::STRING;
  r.s_ = std::move(v);
  return r;
}

Value Value::of_array(ValueType elem_type, std::vector<Value> elems) {
  Value r;
  r.type_ = ValueType::ARRAY;
  r.elem_type_ = elem_type;
  r.array_ = std::move(elems);
  return r;
}

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::U16:
    case ValueType::I16:
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::U64:
    case ValueType::I64:
      return true;
    default:
      return false;
  }
}

static bool is_signed(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

static std::runtime_error wrong_type(ValueType have, const char* want) {
  return std::runtime_error("metadata value is " + std::string(value_type_name(have)) +
                            ", expected " + want);
}

uint64_t Value::as_uint() const {
  if (is_integer()) {
    if (is_signed(type_)) {
      if (i_ < 0) throw std::runtime_error("metadata value " + std::to_string(i_) + " is negative");
      return static_cast<uint64_t>(i_);
    }
    return u_;
  }
  if (type_ == ValueType::BOOL) return u_;
  throw wrong_type(type_, "an unsigned integer");
}

int64_t Value::as_int() const {
  if (is_integer()) {
    if (is_signed(type_)) return i_;
    if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw std::runtime_error("metadata value " + std::to_string(u_) + " is too large");
    return static_cast<int64_t>(u_);
  }
  if (type_ == ValueType::BOOL) return static_cast<int64_t>(u_);
  throw wrong_type(type_, "an integer");
}

double Value::as_float() const {
  if (is_float()) return f_;
  if (is_integer()) return is_signed(type_) ? static_cast<double>(i_) : static_cast<double>(u_);
  throw wrong_type(type_, "a number");
}

bool Value::as_bool() const {
  if (type_ == ValueType::BOOL) return u_ != 0;
  if (is_integer()) return as_int() != 0;
  throw wrong_type(type_, "a bool");
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::STRING) throw wrong_type(type_, "a string");
  return s_;
}

const std::vector<Value>& Value::as_array() const {
  if (type_ != ValueType::ARRAY) throw wrong_type(type_, "an array");
  return array_;
}

}  // namespace hearth::gguf
