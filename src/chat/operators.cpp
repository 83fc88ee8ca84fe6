// Python operators on template values: arithmetic, `in`, iteration, attribute
// and item access (Jinja2's getattr-then-getitem rule), slicing, str % args.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/interp.h"
#include "chat/strings.h"

namespace hearth::chat::detail {

namespace {

[[noreturn]] void undefined_error(const Value& v) {
  std::string hint = v.undefined_hint();
  if (hint.find(' ') != std::string::npos) fail("UndefinedError: " + hint);
  fail("UndefinedError: '" + hint + "' is undefined");
}

[[noreturn]] void operand_error(const char* op, const Value& a, const Value& b) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  fail(std::string("TypeError: unsupported operand type(s) for ") + op + ": '" + type_name(a) +
       "' and '" + type_name(b) + "'");
}

[[noreturn]] void overflow() { fail("OverflowError: integer result out of range"); }
std::int64_t add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
std::int64_t sub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
std::int64_t mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

Value repeat(Interp& in, const Value& seq, std::int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<std::uint64_t>(n) > in.limits().max_value_bytes / s.size())
      in.charge(in.limits().max_value_bytes + 1);
    std::string out;
    out.reserve(s.size() * static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) out += s;
    return in.str(std::move(out));
  }
  const List& l = seq.list();
  if (!l.empty() &&
      static_cast<std::uint64_t>(n) > in.limits().max_value_bytes / (l.size() * sizeof(Value)))
    in.charge(in.limits().max_value_bytes + 1);
  List out;
  for (std::int64_t k = 0; k < n; ++k) out.insert(out.end(), l.begin(), l.end());
  return in.list(std::move(out), seq.kind);
}

double py_fmod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

Value Interp::binary(Op op, const Value& a, const Value& b) {
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && a.is_int() && b.is_int();
  switch (op) {
    case Op::Concat: {
      std::string s = to_str(a);
      append_str(s, b);
      return str(std::move(s));
    }
    case Op::Add:
      if (ints) return Value::integer(add(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_double() + b.as_double());
      if (a.is_string() && b.is_string()) {
        if (a.is_markup() != b.is_markup()) {  // Markup + str escapes the str
          std::string s =
              a.is_markup() ? a.str() + html_escape(b.str()) : html_escape(a.str()) + b.str();
          charge(s.size());
          return Value::markup(std::move(s));
        }
        charge(a.str().size() + b.str().size());
        Value r = Value::string(a.str() + b.str());
        r.b = a.is_markup();
        return r;
      }
      if (a.is_list() && a.kind == b.kind) {
        List l = a.list();
        l.insert(l.end(), b.list().begin(), b.list().end());
        return list(std::move(l), a.kind);
      }
      if (a.is_string() && !b.is_undefined())
        fail(std::string("TypeError: can only concatenate str (not \"") + type_name(b) +
             "\") to str");
      operand_error("+", a, b);
    case Op::Sub:
      if (ints) return Value::integer(sub(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_double() - b.as_double());
      operand_error("-", a, b);
    case Op::Mul:
      if (ints) return Value::integer(mul(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_double() * b.as_double());
      if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(*this, a, b.as_int());
      if ((b.is_string() || b.is_list()) && a.is_int()) return repeat(*this, b, a.as_int());
      operand_error("*", a, b);
    case Op::Div:
      if (nums) {
        if (b.as_double() == 0) fail("ZeroDivisionError: division by zero");
        return Value::number(a.as_double() / b.as_double());
      }
      operand_error("/", a, b);
    case Op::FloorDiv:
      if (ints) {
        std::int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) fail("ZeroDivisionError: integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) fail("OverflowError: integer result out of range");
        std::int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      if (nums) {
        if (b.as_double() == 0) fail("ZeroDivisionError: float floor division by zero");
        return Value::number(std::floor(a.as_double() / b.as_double()));
      }
      operand_error("//", a, b);
    case Op::Mod:
      if (ints) {
        std::int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) fail("ZeroDivisionError: integer division or modulo by zero");
        if (y == -1) return Value::integer(0);
        std::int64_t r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value::integer(r);
      }
      if (nums) {
        if (b.as_double() == 0) fail("ZeroDivisionError: float modulo");
        return Value::number(py_fmod(a.as_double(), b.as_double()));
      }
      if (a.is_string()) return str(py_format(*this, a.str(), b));
      operand_error("%", a, b);
    case Op::Pow:
      if (ints && b.as_int() >= 0) {
        std::int64_t base = a.as_int(), e = b.as_int(), r = 1;
        while (e > 0) {
          step();
          if (e & 1) r = mul(r, base);
          e >>= 1;
          if (e) base = mul(base, base);
        }
        return Value::integer(r);
      }
      if (nums) {
        if (a.as_double() == 0 && b.as_double() < 0)
          fail("ZeroDivisionError: 0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.as_double(), b.as_double()));
      }
      operand_error("**", a, b);
    default:
      break;
  }
  fail("TypeError: bad binary operator");
}

bool Interp::contains(const Value& c, const Value& item) {
  switch (c.kind) {
    case Kind::String:
      if (!item.is_string())
        fail(std::string("TypeError: 'in <string>' requires string as left operand, not ") +
             type_name(item));
      return c.str().find(item.str()) != std::string::npos;
    case Kind::List:
    case Kind::Tuple:
    case Kind::Generator:
      for (const Value& x : c.list()) {
        step();
        if (equals(x, item)) return true;
      }
      return false;
    case Kind::Dict:
    case Kind::Namespace:
      return c.dict().find(item) != nullptr;
    case Kind::Undefined:
      return false;
    default:
      fail(std::string("TypeError: argument of type '") + type_name(c) + "' is not iterable");
  }
}

List Interp::iterate(const Value& v) {
  switch (v.kind) {
    case Kind::List:
    case Kind::Tuple:
    case Kind::Generator:
      return v.list();
    case Kind::Dict: {
      List keys;
      for (const auto& kv : v.dict().items) keys.push_back(kv.first);
      return keys;
    }
    case Kind::String: {
      List chars;
      const std::string& s = v.str();
      // Charge before building: a long string makes millions of one-character
      // values, which took seconds before the charge refused them.
      std::size_t n = s.empty() ? 0 : 1;
      for (std::size_t k = 1; k < s.size(); ++k)
        n += (static_cast<unsigned char>(s[k]) & 0xC0) != 0x80;
      charge(n * sizeof(Value));
      chars.reserve(n);
      for (std::size_t k = 0; k < s.size();) {
        std::size_t len = 1;
        while (k + len < s.size() && (static_cast<unsigned char>(s[k + len]) & 0xC0) == 0x80) ++len;
        chars.push_back(Value::string(s.substr(k, len)));
        k += len;
      }
      return chars;
    }
    case Kind::Undefined:
      return {};
    default:
      fail(std::string("TypeError: '") + type_name(v) + "' object is not iterable");
  }
}

Value Interp::get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind) {
    case Kind::Undefined:
      undefined_error(obj);
    case Kind::Namespace:
      if (Value* v = obj.dict().find(std::string_view(name))) return *v;
      break;
    case Kind::Dict:
      if (has_method(obj, name)) break;
      if (Value* v = obj.dict().find(std::string_view(name))) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    default:
      break;
  }
  if (has_method(obj, name)) {
    Value self = obj;
    std::string method = name;
    return callable(name, [self, method](Interp& in, Args& args) {
      return call_method(in, self, method, args);
    });
  }
  return Value::undefined(std::string("'") + type_name(obj) + " object' has no attribute '" + name +
                          "'");
}

Value Interp::get_item(const Value& obj, const Value& key) {
  switch (obj.kind) {
    case Kind::Undefined:
      undefined_error(obj);
    case Kind::Dict:
    case Kind::Namespace:
      if (Value* v = obj.dict().find(key)) return *v;
      break;
    case Kind::List:
    case Kind::Tuple:
      if (key.is_int()) {
        const List& l = obj.list();
        std::int64_t k = key.as_int();
        const std::int64_t n = static_cast<std::int64_t>(l.size());
        if (k < 0) k += n;
        if (k >= 0 && k < n) return l[static_cast<std::size_t>(k)];
        return Value::undefined(std::string("list object has no element ") +
                                std::to_string(key.as_int()));
      }
      break;
    case Kind::String:
      if (key.is_int()) {
        const std::int64_t k = key.as_int();
        if (k == INT64_MAX)
          return Value::undefined("string index out of range");  // k + 1 overflows
        Value one =
            slice(*this, obj, key, k == -1 ? Value::none() : Value::integer(k + 1), Value::none());
        if (!one.str().empty()) return one;
        return Value::undefined("string index out of range");
      }
      break;
    default:
      break;
  }
  if (key.is_string()) return get_attr(obj, key.str());
  return Value::undefined(std::string("'") + type_name(obj) + " object' has no item " +
                          to_str(key));
}

Value slice(Interp& in, const Value& obj, const Value& start, const Value& stop,
            const Value& step_v) {
  auto idx = [](const Value& v, const char* what) -> std::int64_t {
    if (!v.is_int()) fail(std::string("TypeError: slice ") + what + " must be an integer or None");
    return v.as_int();
  };
  std::int64_t step = step_v.is_none() ? 1 : idx(step_v, "step");
  if (step == 0) fail("ValueError: slice step cannot be zero");
  std::vector<char32_t> cps;
  std::int64_t n;
  const bool str = obj.is_string();
  const bool ascii = str && is_ascii(obj.str());
  if (str) {
    if (!ascii) cps = utf8_decode(obj.str());
    n = static_cast<std::int64_t>(ascii ? obj.str().size() : cps.size());
  } else if (obj.is_list()) {
    n = static_cast<std::int64_t>(obj.list().size());
  } else {
    if (obj.is_undefined()) undefined_error(obj);
    fail(std::string("TypeError: '") + type_name(obj) + "' object is not subscriptable");
  }
  auto norm = [&](const Value& v, std::int64_t dflt) -> std::int64_t {
    if (v.is_none() || v.is_undefined()) return dflt;
    std::int64_t x = idx(v, "indices");
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  std::int64_t lo = norm(start, step < 0 ? n - 1 : 0);
  std::int64_t hi = norm(stop, step < 0 ? -1 : n);
  std::vector<std::int64_t> picks;
  if (step > 0)
    for (std::int64_t k = lo; k < hi; k += step) picks.push_back(k);
  else
    for (std::int64_t k = lo; k > hi; k += step) picks.push_back(k);
  if (str) {
    std::string out;
    for (std::int64_t k : picks) {
      if (ascii)
        out += obj.str()[static_cast<std::size_t>(k)];
      else
        utf8_append(out, cps[static_cast<std::size_t>(k)]);
    }
    return in.str(std::move(out));
  }
  List out;
  for (std::int64_t k : picks) out.push_back(obj.list()[static_cast<std::size_t>(k)]);
  return in.list(std::move(out), obj.kind);
}

std::string py_format(Interp& in, const std::string& fmt, const Value& args) {
  List items = args.kind == Kind::Tuple ? args.list() : List{args};
  std::size_t next = 0;
  std::string out;
  for (std::size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out += fmt[k];
      continue;
    }
    std::size_t j = k + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::strchr("-+ 0#.123456789", fmt[j])) spec += fmt[j++];
    if (spec.size() > 8) fail("ValueError: format width or precision too large: " + spec);
    if (j >= fmt.size()) fail("ValueError: incomplete format");
    char conv = fmt[j];
    k = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= items.size()) fail("TypeError: not enough arguments for format string");
    const Value& v = items[next++];
    char buf[512];
    if (conv == 's' || conv == 'r') {
      std::string s;
      if (conv == 's')
        s = to_str(v);
      else
        append_repr(s, v);
      // Width pads to a number of code points; '-' pads on the right.
      std::size_t width = 0;
      for (char ch : spec) {
        if (ch == '.') break;
        if (ch >= '0' && ch <= '9') width = width * 10 + static_cast<std::size_t>(ch - '0');
        if (width > 4096) fail("ValueError: format width too large");
      }
      std::size_t len = utf8_length(s);
      std::string pad(width > len ? width - len : 0, ' ');
      out += spec.find('-') != std::string::npos ? s + pad : pad + s;
    } else if (conv == 'd' || conv == 'i') {
      if (!v.is_number()) fail("TypeError: %d format: a real number is required");
      if (v.kind == Kind::Float && !(std::fabs(v.f) < 9.2e18))  // NaN too: the cast is UB
        fail("OverflowError: %d format: cannot convert float " + to_str(v) + " to integer");
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(),
                    static_cast<long long>(v.kind == Kind::Float ? std::trunc(v.f) : v.as_int()));
      out += buf;
    } else if (std::strchr("feEgGxXo", conv)) {
      if (!v.is_number())
        fail(std::string("TypeError: %") + conv + " format: a number is required");
      if (conv == 'x' || conv == 'X' || conv == 'o')
        std::snprintf(buf, sizeof buf, (spec + "ll" + conv).c_str(),
                      static_cast<long long>(v.as_int()));
      else
        std::snprintf(buf, sizeof buf, (spec + conv).c_str(), v.as_double());
      out += buf;
    } else {
      fail(std::string("ValueError: unsupported format character '") + conv + "'");
    }
    in.charge(0);
  }
  if (next < items.size() && args.kind == Kind::Tuple)
    fail("TypeError: not all arguments converted during string formatting");
  return out;
}

}  // namespace hearth::chat::detail
