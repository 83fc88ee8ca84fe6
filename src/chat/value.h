// Values of the template language: Python's object model, reduced to what chat
// templates use. Strings are UTF-8 and shared (immutable); lists and dicts are
// shared and mutable (Python reference semantics); dicts keep insertion order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/chat_template.h"

namespace hearth::chat::detail {

enum class Kind : std::uint8_t {
  Undefined,  // p: optional std::string, the hint for error messages
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Tuple,  // a List that prints with parentheses
  Dict,
  Namespace,  // a Dict whose attributes `set` may assign
  Callable,
  Generator,  // a List produced lazily in Jinja2 (map, select, ...): iterable only
};

struct Value;
struct Dict;
struct Callable;
using List = std::vector<Value>;

struct Value {
  Kind kind = Kind::Undefined;
  union {
    bool b;
    std::int64_t i;
    double f;
  };
  std::shared_ptr<void> p;

  Value() : i(0) {}
  static Value undefined(std::string hint = {});
  static Value none() {
    Value v;
    v.kind = Kind::None;
    return v;
  }
  static Value boolean(bool x) {
    Value v;
    v.kind = Kind::Bool;
    v.b = x;
    return v;
  }
  static Value integer(std::int64_t x) {
    Value v;
    v.kind = Kind::Int;
    v.i = x;
    return v;
  }
  static Value number(double x) {
    Value v;
    v.kind = Kind::Float;
    v.f = x;
    return v;
  }
  static Value string(std::string s);
  static Value string_ref(std::shared_ptr<const std::string> s);
  static Value markup(std::string s) {
    Value v = string(std::move(s));
    v.b = true;
    return v;
  }

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  // A string marked safe (|safe, |escape): Jinja2's Markup, which HTML-escapes
  // plain strings added to it with +. The flag lives in `b`.
  bool is_markup() const { return kind == Kind::String && b; }
  bool is_list() const { return kind == Kind::List || kind == Kind::Tuple; }
  bool is_dict() const { return kind == Kind::Dict || kind == Kind::Namespace; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_int() const { return kind == Kind::Int || kind == Kind::Bool; }

  const std::string& str() const { return *static_cast<const std::string*>(p.get()); }
  List& list() const { return *static_cast<List*>(p.get()); }
  Dict& dict() const { return *static_cast<Dict*>(p.get()); }
  Callable& fn() const { return *static_cast<Callable*>(p.get()); }
  std::int64_t as_int() const { return kind == Kind::Bool ? (b ? 1 : 0) : i; }
  double as_double() const { return kind == Kind::Float ? f : static_cast<double>(as_int()); }
  // Undefined values: the name the template asked for, for error messages.
  std::string undefined_hint() const { return p ? str() : std::string(); }
};

struct Dict {
  std::vector<std::pair<Value, Value>> items;
  Value* find(const Value& key);
  Value* find(std::string_view key);
  void set(Value key, Value value);
  bool erase(const Value& key);
};

class Interp;
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // The keyword `name`, else the positional argument at `index`, else undefined.
  Value get(std::size_t index, std::string_view name) const;
  bool has(std::size_t index, std::string_view name) const;
};
struct Callable {
  std::string name;
  std::function<Value(Interp&, Args&)> call;
};

// Python's truth value (Undefined is false).
bool truthy(const Value& v);
// Python's str(): what {{ v }} prints. Undefined prints as "".
std::string to_str(const Value& v);
void append_str(std::string& out, const Value& v, int depth = 0);
// Python's repr(), as lists and dicts print their items.
void append_repr(std::string& out, const Value& v, int depth = 0);
std::string python_float_repr(double d);
// Python's ==.
bool equals(const Value& a, const Value& b, int depth = 0);
// Python's <, for numbers, strings and lists; throws TemplateError otherwise.
bool less(const Value& a, const Value& b);
// Jinja's type name for messages ("str", "int", "list", "dict", "undefined", ...).
const char* type_name(const Value& v);

// UTF-8 helpers: Python indexes strings by code point.
bool is_ascii(std::string_view s);
std::size_t utf8_length(std::string_view s);
std::vector<std::u32string::value_type> utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t cp);
bool is_py_space(char32_t cp);

// Errors carry Python's exception class name first ("TypeError: ...").
[[noreturn]] void fail(const std::string& message);

}  // namespace hearth::chat::detail
