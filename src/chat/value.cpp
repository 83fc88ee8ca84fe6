// Python semantics of values: truth, str(), repr(), ==, < and UTF-8 helpers.
#include "chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace hearth::chat::detail {

namespace {
constexpr int kMaxNesting = 256;  // repr/== recursion; deeper structures are an error

void check_depth(int depth) {
  if (depth > kMaxNesting) fail("RecursionError: values nested deeper than 256 levels");
}
}  // namespace

void fail(const std::string& message) { throw TemplateError(message); }

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.p = std::make_shared<std::string>(std::move(hint));
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind = Kind::String;
  v.p = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::string_ref(std::shared_ptr<const std::string> s) {
  Value v;
  v.kind = Kind::String;
  v.p = std::const_pointer_cast<std::string>(std::move(s));
  return v;
}

Value* Dict::find(const Value& key) {
  if (key.kind == Kind::String) return find(std::string_view(key.str()));
  for (auto& [k, v] : items)
    if (equals(k, key)) return &v;
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (auto& [k, v] : items)
    if (k.kind == Kind::String && k.str() == key) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  if (Value* slot = find(key)) {
    *slot = std::move(value);
    return;
  }
  items.emplace_back(std::move(key), std::move(value));
}

bool Dict::erase(const Value& key) {
  for (auto it = items.begin(); it != items.end(); ++it)
    if (equals(it->first, key)) {
      items.erase(it);
      return true;
    }
  return false;
}

Value Args::get(std::size_t index, std::string_view name) const {
  for (const auto& [k, v] : kw)
    if (k == name) return v;
  if (index < pos.size()) return pos[index];
  return Value::undefined();
}

bool Args::has(std::size_t index, std::string_view name) const {
  for (const auto& kv : kw)
    if (kv.first == name) return true;
  return index < pos.size();
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.b;
    case Kind::Int:
      return v.i != 0;
    case Kind::Float:
      return v.f != 0.0;
    case Kind::String:
      return !v.str().empty();
    case Kind::List:
    case Kind::Tuple:
      return !v.list().empty();
    case Kind::Dict:
    case Kind::Namespace:
      return !v.dict().items.empty();
    case Kind::Callable:
    case Kind::Generator:
      return true;
  }
  return false;
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // like -1.2345e+02
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  std::size_t epos = sci.find('e');
  int exp = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (std::size_t k = 0; k < epos; ++k)
    if (sci[k] != '.') digits += sci[k];
  std::string out = sign;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + e;
}

static void append_string_repr(std::string& out, const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  out += q;
  for (unsigned char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c == static_cast<unsigned char>(q)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += q;
}

void append_repr(std::string& out, const Value& v, int depth) {
  check_depth(depth);
  switch (v.kind) {
    case Kind::String:
      append_string_repr(out, v.str());
      return;
    case Kind::List:
    case Kind::Tuple: {
      const List& l = v.list();
      out += v.kind == Kind::List ? '[' : '(';
      for (std::size_t k = 0; k < l.size(); ++k) {
        if (k) out += ", ";
        append_repr(out, l[k], depth + 1);
      }
      if (v.kind == Kind::Tuple && l.size() == 1) out += ',';
      out += v.kind == Kind::List ? ']' : ')';
      return;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      if (v.kind == Kind::Namespace) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, depth + 1);
        out += ": ";
        append_repr(out, x, depth + 1);
      }
      out += '}';
      if (v.kind == Kind::Namespace) out += '>';
      return;
    }
    case Kind::Undefined:
      out += "Undefined";
      return;
    default:
      append_str(out, v, depth);
  }
}

void append_str(std::string& out, const Value& v, int depth) {
  switch (v.kind) {
    case Kind::Undefined:
      return;
    case Kind::None:
      out += "None";
      return;
    case Kind::Bool:
      out += v.b ? "True" : "False";
      return;
    case Kind::Int:
      out += std::to_string(v.i);
      return;
    case Kind::Float:
      out += python_float_repr(v.f);
      return;
    case Kind::String:
      out += v.str();
      return;
    case Kind::Callable:
      out += "<function " + v.fn().name + ">";
      return;
    case Kind::Generator:
      out += "<generator object>";
      return;
    default:
      append_repr(out, v, depth);
  }
}

std::string to_str(const Value& v) {
  if (v.kind == Kind::String) return v.str();
  std::string s;
  append_str(s, v);
  return s;
}

bool equals(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.is_list() && b.is_list()) {
    if (a.kind != b.kind) return false;
    const List& x = a.list();
    const List& y = b.list();
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < x.size(); ++k)
      if (!equals(x[k], y[k], depth + 1)) return false;
    return true;
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.str() == b.str();
    case Kind::Dict: {
      auto& x = a.dict().items;
      auto& y = b.dict();
      if (x.size() != y.items.size()) return false;
      for (const auto& [k, v] : x) {
        Value* o = y.find(k);
        if (!o || !equals(v, *o, depth + 1)) return false;
      }
      return true;
    }
    default:
      return a.p == b.p;
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.kind == Kind::String && b.kind == Kind::String) return a.str() < b.str();
  if (a.is_list() && b.kind == a.kind) {
    const List& x = a.list();
    const List& y = b.list();
    for (std::size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (equals(x[k], y[k])) continue;
      return less(x[k], y[k]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined() || b.is_undefined())
    fail("UndefinedError: '" + (a.is_undefined() ? a : b).undefined_hint() + "' is undefined");
  fail(std::string("TypeError: '<' not supported between instances of '") + type_name(a) +
       "' and '" + type_name(b) + "'");
}

const char* type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Callable:
      return "function";
    case Kind::Generator:
      return "generator";
  }
  return "object";
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::vector<char32_t> utf8_decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (k + len > s.size()) len = 1;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int j = 1; j < len; ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[k + j]) & 0x3F);
    out.push_back(cp);
    k += len;
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_py_space(char32_t c) {
  return (c >= 9 && c <= 13) || c == ' ' || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

}  // namespace hearth::chat::detail
