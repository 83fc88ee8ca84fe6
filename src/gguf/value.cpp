#include "gguf/value.h"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace hearth::gguf {

namespace {

bool is_signed(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

std::runtime_error wrong_type(ValueType have, const char* want) {
  return std::runtime_error("metadata value is " + std::string(value_type_name(have)) +
                            ", expected " + want);
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void store(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

}  // namespace

uint32_t Value::value_type_size(ValueType type) {
  switch (type) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
      return 8;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

bool Value::is_integer_type(ValueType type) {
  switch (type) {
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

Value Value::of_strings(std::vector<std::string> elems) {
  Value r;
  r.type_ = ValueType::ARRAY;
  r.elem_type_ = ValueType::STRING;
  r.strings_ = std::move(elems);
  return r;
}

Value Value::of_packed(ValueType elem_type, std::vector<uint8_t> packed) {
  const uint32_t size = value_type_size(elem_type);
  if (size == 0 || packed.size() % size != 0)
    throw std::invalid_argument("packed array of " + std::string(value_type_name(elem_type)) +
                                ": " + std::to_string(packed.size()) + " bytes");
  Value r;
  r.type_ = ValueType::ARRAY;
  r.elem_type_ = elem_type;
  r.packed_ = std::move(packed);
  return r;
}

Value Value::of_array(ValueType elem_type, const std::vector<Value>& elems) {
  for (const Value& e : elems)
    if (e.type() != elem_type)
      throw std::invalid_argument("array of " + std::string(value_type_name(elem_type)) +
                                  " given an element of type " +
                                  std::string(value_type_name(e.type())));
  if (elem_type == ValueType::ARRAY) throw std::invalid_argument("nested arrays are not supported");
  if (elem_type == ValueType::STRING) {
    std::vector<std::string> s;
    s.reserve(elems.size());
    for (const Value& e : elems) s.push_back(e.s_);
    return of_strings(std::move(s));
  }
  std::vector<uint8_t> p;
  p.reserve(elems.size() * value_type_size(elem_type));
  for (const Value& e : elems) {
    switch (elem_type) {
      case ValueType::U8:
        store<uint8_t>(p, static_cast<uint8_t>(e.u_));
        break;
      case ValueType::I8:
        store<int8_t>(p, static_cast<int8_t>(e.i_));
        break;
      case ValueType::U16:
        store<uint16_t>(p, static_cast<uint16_t>(e.u_));
        break;
      case ValueType::I16:
        store<int16_t>(p, static_cast<int16_t>(e.i_));
        break;
      case ValueType::U32:
        store<uint32_t>(p, static_cast<uint32_t>(e.u_));
        break;
      case ValueType::I32:
        store<int32_t>(p, static_cast<int32_t>(e.i_));
        break;
      case ValueType::U64:
        store<uint64_t>(p, e.u_);
        break;
      case ValueType::I64:
        store<int64_t>(p, e.i_);
        break;
      case ValueType::F32:
        store<float>(p, static_cast<float>(e.f_));
        break;
      case ValueType::F64:
        store<double>(p, e.f_);
        break;
      case ValueType::BOOL:
        store<uint8_t>(p, e.u_ ? 1 : 0);
        break;
      case ValueType::STRING:
      case ValueType::ARRAY:
        break;
    }
  }
  return of_packed(elem_type, std::move(p));
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
  if (is_integer()) return is_signed(type_) ? i_ != 0 : u_ != 0;
  throw wrong_type(type_, "a bool");
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::STRING) throw wrong_type(type_, "a string");
  return s_;
}

void Value::require_array() const {
  if (type_ != ValueType::ARRAY) throw wrong_type(type_, "an array");
}

uint64_t Value::array_size() const {
  require_array();
  if (elem_type_ == ValueType::STRING) return strings_.size();
  return packed_.size() / value_type_size(elem_type_);
}

Value Value::at(uint64_t i) const {
  const uint64_t n = array_size();
  if (i >= n)
    throw std::out_of_range("array index " + std::to_string(i) + " of " + std::to_string(n));
  if (elem_type_ == ValueType::STRING) return of_string(strings_[i]);
  const uint8_t* p = packed_.data() + i * value_type_size(elem_type_);
  switch (elem_type_) {
    case ValueType::U8:
      return of_uint(elem_type_, load<uint8_t>(p));
    case ValueType::I8:
      return of_int(elem_type_, load<int8_t>(p));
    case ValueType::U16:
      return of_uint(elem_type_, load<uint16_t>(p));
    case ValueType::I16:
      return of_int(elem_type_, load<int16_t>(p));
    case ValueType::U32:
      return of_uint(elem_type_, load<uint32_t>(p));
    case ValueType::I32:
      return of_int(elem_type_, load<int32_t>(p));
    case ValueType::U64:
      return of_uint(elem_type_, load<uint64_t>(p));
    case ValueType::I64:
      return of_int(elem_type_, load<int64_t>(p));
    case ValueType::F32:
      return of_float(elem_type_, load<float>(p));
    case ValueType::F64:
      return of_float(elem_type_, load<double>(p));
    case ValueType::BOOL:
      return of_bool(*p != 0);
    case ValueType::STRING:
    case ValueType::ARRAY:
      break;
  }
  throw std::runtime_error("array of unsupported element type");
}

const std::string& Value::string_at(uint64_t i) const {
  require_array();
  if (elem_type_ != ValueType::STRING) throw wrong_type(elem_type_, "a string");
  if (i >= strings_.size())
    throw std::out_of_range("array index " + std::to_string(i) + " of " +
                            std::to_string(strings_.size()));
  return strings_[i];
}

std::span<const uint8_t> Value::packed() const {
  require_array();
  return packed_;
}

std::vector<Value> Value::as_array() const {
  const uint64_t n = array_size();
  std::vector<Value> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) out.push_back(at(i));
  return out;
}

}  // namespace hearth::gguf
