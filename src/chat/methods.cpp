// Python methods templates call on strings, dicts and lists
// (s.strip(), d.get(k), d.items(), l.append(x), ...).
#include <algorithm>
#include <string_view>

#include "chat/interp.h"
#include "chat/strings.h"

namespace hearth::chat::detail {

namespace {

constexpr std::string_view kStr[] = {
    "strip",      "lstrip",       "rstrip",       "split",    "rsplit",  "splitlines",
    "startswith", "endswith",     "replace",      "upper",    "lower",   "title",
    "capitalize", "find",         "rfind",        "index",    "count",   "join",
    "format",     "isdigit",      "isalpha",      "isalnum",  "isspace", "isupper",
    "islower",    "zfill",        "ljust",        "rjust",    "center",  "partition",
    "rpartition", "removeprefix", "removesuffix", "swapcase", "casefold"};
constexpr std::string_view kDict[] = {"get", "items",  "keys", "values",
                                      "pop", "update", "copy", "setdefault"};
constexpr std::string_view kList[] = {"append", "pop",    "extend",  "insert", "index",
                                      "count",  "remove", "reverse", "copy",   "clear"};

template <std::size_t N>
bool in_set(const std::string_view (&set)[N], const std::string& name) {
  return std::find(std::begin(set), std::end(set), name) != std::end(set);
}

const std::string* opt_chars(const Value& v, std::string& buf) {
  if (v.is_undefined() || v.is_none()) return nullptr;
  buf = to_str(v);
  return &buf;
}

std::int64_t int_arg(const Value& v, std::int64_t dflt) {
  if (v.is_undefined() || v.is_none()) return dflt;
  if (!v.is_int())
    fail(std::string("TypeError: '") + type_name(v) +
         "' object cannot be interpreted as an integer");
  return v.as_int();
}

bool affix_match(Interp& in, const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string())
      fail("TypeError: startswith/endswith first arg must be str or a tuple of str");
    const std::string& x = a.str();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : in.iterate(affix))
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

template <typename Pred>
Value all_cps(const std::string& s, Pred p) {
  if (s.empty()) return Value::boolean(false);
  for (char32_t c : utf8_decode(s))
    if (!p(c)) return Value::boolean(false);
  return Value::boolean(true);
}

Value str_list(Interp& in, std::vector<std::string> parts) {
  List out;
  in.charge(parts.size() * sizeof(Value));  // refuse a huge list before converting it
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(in.str(std::move(p)));
  return in.list(std::move(out));
}

// str.format: {} / {0} / {name} fields with optional !r and no format spec.
std::string str_format(Interp& in, const std::string& fmt, Args& a) {
  std::string out;
  std::size_t auto_idx = 0;
  for (std::size_t k = 0; k < fmt.size(); ++k) {
    char c = fmt[k];
    if (c == '}' && k + 1 < fmt.size() && fmt[k + 1] == '}') {
      out += '}';
      ++k;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (k + 1 < fmt.size() && fmt[k + 1] == '{') {
      out += '{';
      ++k;
      continue;
    }
    std::size_t end = fmt.find('}', k);
    if (end == std::string::npos) fail("ValueError: Single '{' encountered in format string");
    std::string field = fmt.substr(k + 1, end - k - 1);
    bool repr = false;
    if (field.size() >= 2 && field[field.size() - 2] == '!') {
      repr = field.back() == 'r';
      field.resize(field.size() - 2);
    }
    Value v;
    if (field.empty())
      v = a.get(auto_idx++, "\x01");
    else if (std::all_of(field.begin(), field.end(), ::isdigit))
      // More than 18 digits: out of range like any missing index (stoul would throw).
      v = a.get(field.size() <= 18 ? std::stoul(field) : SIZE_MAX - 1, "\x01");
    else
      v = a.get(SIZE_MAX, field);
    if (repr)
      append_repr(out, v);
    else
      append_str(out, v);
    in.charge(0);
    k = end;
  }
  return out;
}

Value string_method(Interp& in, const std::string& s, const std::string& m, Args& a) {
  std::string buf;
  if (m == "strip" || m == "lstrip" || m == "rstrip")
    return in.str(py_strip(s, opt_chars(a.get(0, "chars"), buf), m != "rstrip", m != "lstrip"));
  if (m == "split" || m == "rsplit") {
    const std::string* sep = opt_chars(a.get(0, "sep"), buf);
    std::int64_t maxsplit = int_arg(a.get(1, "maxsplit"), -1);
    return str_list(in, m == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
  }
  if (m == "splitlines") return str_list(in, py_splitlines(s));
  if (m == "startswith" || m == "endswith")
    return Value::boolean(affix_match(in, s, a.get(0, "prefix"), m == "startswith"));
  if (m == "replace")
    return in.str(py_replace(s, to_str(a.get(0, "old")), to_str(a.get(1, "new")),
                             int_arg(a.get(2, "count"), -1), in.limits().max_value_bytes));
  if (m == "upper") return in.str(py_upper(s));
  if (m == "lower" || m == "casefold") return in.str(py_lower(s));
  if (m == "title") return in.str(py_title(s));
  if (m == "capitalize") return in.str(py_capitalize(s));
  if (m == "swapcase") {
    std::string out;
    for (char32_t c : utf8_decode(s)) {
      std::string one;
      utf8_append(one, c);
      std::string u = py_upper(one);
      out += u != one ? u : py_lower(one);
    }
    return in.str(std::move(out));
  }
  if (m == "find" || m == "rfind" || m == "index") {
    std::int64_t r = py_find(s, to_str(a.get(0, "sub")), m == "rfind");
    if (r < 0 && m == "index") fail("ValueError: substring not found");
    return Value::integer(r);
  }
  if (m == "count") {
    std::string sub = to_str(a.get(0, "sub"));
    if (sub.empty()) return Value::integer(static_cast<std::int64_t>(utf8_length(s)) + 1);
    std::int64_t n = 0;
    for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size()))
      ++n;
    return Value::integer(n);
  }
  if (m == "join") {
    std::string out;
    bool first = true;
    for (const Value& x : in.iterate(a.get(0, "iterable"))) {
      if (!x.is_string())
        fail(std::string("TypeError: sequence item: expected str instance, ") + type_name(x) +
             " found");
      if (!first) out += s;
      first = false;
      out += x.str();
      if (out.size() > in.limits().max_value_bytes) in.charge(out.size());
    }
    return in.str(std::move(out));
  }
  if (m == "format") return in.str(str_format(in, s, a));
  if (m == "isdigit") return all_cps(s, [](char32_t c) { return c >= '0' && c <= '9'; });
  if (m == "isalpha")
    return all_cps(s, [](char32_t c) { return c > 127 || std::isalpha(static_cast<int>(c)); });
  if (m == "isalnum")
    return all_cps(s, [](char32_t c) { return c > 127 || std::isalnum(static_cast<int>(c)); });
  if (m == "isspace") return all_cps(s, [](char32_t c) { return is_py_space(c); });
  if (m == "isupper") return Value::boolean(py_upper(s) == s && py_lower(s) != s);
  if (m == "islower") return Value::boolean(py_lower(s) == s && py_upper(s) != s);
  if (m == "removeprefix" || m == "removesuffix") {
    std::string x = to_str(a.get(0, "prefix"));
    bool pre = m == "removeprefix";
    if (affix_match(in, s, Value::string(x), pre))
      return in.str(pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
    return in.str(s);
  }
  if (m == "partition" || m == "rpartition") {
    std::string sep = to_str(a.get(0, "sep"));
    if (sep.empty()) fail("ValueError: empty separator");
    std::size_t at = m == "partition" ? s.find(sep) : s.rfind(sep);
    if (at == std::string::npos)
      return in.list(m == "partition"
                         ? List{Value::string(s), Value::string(""), Value::string("")}
                         : List{Value::string(""), Value::string(""), Value::string(s)},
                     Kind::Tuple);
    return in.list({in.str(s.substr(0, at)), Value::string(sep), in.str(s.substr(at + sep.size()))},
                   Kind::Tuple);
  }
  // zfill, ljust, rjust, center: padding to a width in code points.
  std::int64_t width = int_arg(a.get(0, "width"), 0);
  if (width > static_cast<std::int64_t>(in.limits().max_value_bytes))
    in.charge(static_cast<std::size_t>(width));  // throws: larger than any value may be
  std::string fill = a.has(1, "fillchar") ? to_str(a.get(1, "fillchar")) : " ";
  std::int64_t len = static_cast<std::int64_t>(utf8_length(s));
  std::int64_t pad = std::max<std::int64_t>(0, width - len);
  auto rep = [&](std::int64_t n, const std::string& f) {
    std::string r;
    for (std::int64_t k = 0; k < n; ++k) r += f;
    return r;
  };
  if (m == "zfill") {
    bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
    return in.str(sign ? s.substr(0, 1) + rep(pad, "0") + s.substr(1) : rep(pad, "0") + s);
  }
  if (m == "ljust") return in.str(s + rep(pad, fill));
  if (m == "rjust") return in.str(rep(pad, fill) + s);
  std::int64_t left = pad / 2 + (pad & width & 1);
  return in.str(rep(left, fill) + s + rep(pad - left, fill));
}

[[noreturn]] void unsafe(const char* type, const std::string& m) {
  fail(std::string("SecurityError: access to attribute '") + m + "' of '" + type +
       "' object is unsafe.");
}

Value dict_method(Interp& in, const Value& d, const std::string& m, Args& a) {
  Dict& dict = d.dict();
  if (!in.limits().allow_mutation && (m == "pop" || m == "setdefault" || m == "update"))
    unsafe("dict", m);
  if (m == "get") {
    Value* v = dict.find(a.get(0, "key"));
    if (v) return *v;
    return a.has(1, "default") ? a.get(1, "default") : Value::none();
  }
  if (m == "items") {
    List out;
    for (const auto& [k, v] : dict.items) out.push_back(in.list({k, v}, Kind::Tuple));
    return in.list(std::move(out));
  }
  if (m == "keys" || m == "values") {
    List out;
    for (const auto& [k, v] : dict.items) out.push_back(m == "keys" ? k : v);
    return in.list(std::move(out));
  }
  if (m == "pop") {
    Value key = a.get(0, "key");
    Value* v = dict.find(key);
    if (!v) {
      if (a.has(1, "default")) return a.get(1, "default");
      fail("KeyError: " + to_str(key));
    }
    Value r = *v;
    dict.erase(key);
    return r;
  }
  if (m == "setdefault") {
    Value key = a.get(0, "key");
    if (Value* v = dict.find(key)) return *v;
    Value dflt = a.has(1, "default") ? a.get(1, "default") : Value::none();
    dict.set(key, dflt);
    return dflt;
  }
  if (m == "update") {
    Value other = a.get(0, "other");
    if (other.is_dict())
      for (const auto& [k, v] : other.dict().items) dict.set(k, v);
    for (const auto& [k, v] : a.kw) dict.set(Value::string(k), v);
    in.charge(dict.items.size() * sizeof(Value));
    return Value::none();
  }
  Value copy = in.dict();
  copy.dict().items = dict.items;
  in.charge(dict.items.size() * 2 * sizeof(Value));
  return copy;
}

Value list_method(Interp& in, const Value& l, const std::string& m, Args& a) {
  List& list = l.list();
  if (l.kind == Kind::Tuple && m != "index" && m != "count")
    fail("AttributeError: 'tuple' object has no attribute '" + m + "'");
  if (!in.limits().allow_mutation && m != "index" && m != "count" && m != "copy") unsafe("list", m);
  if (m == "append") {
    in.charge(sizeof(Value));
    if (list.size() * sizeof(Value) > in.limits().max_value_bytes)
      in.charge(in.limits().max_value_bytes + 1);
    list.push_back(a.get(0, "object"));
    return Value::none();
  }
  if (m == "extend") {
    List more = in.iterate(a.get(0, "iterable"));
    in.charge(more.size() * sizeof(Value));
    if ((list.size() + more.size()) * sizeof(Value) > in.limits().max_value_bytes)
      in.charge(in.limits().max_value_bytes + 1);
    list.insert(list.end(), more.begin(), more.end());
    return Value::none();
  }
  if (m == "pop" || m == "insert") {
    std::int64_t n = static_cast<std::int64_t>(list.size());
    std::int64_t k = int_arg(a.get(0, "index"), m == "pop" ? -1 : 0);
    if (k < 0) k += n;
    in.steps(static_cast<std::uint64_t>(n) / 16);  // the elements moved (memmove-fast)
    if (m == "insert") {
      k = std::clamp<std::int64_t>(k, 0, n);
      in.charge(sizeof(Value));
      list.insert(list.begin() + k, a.get(1, "object"));
      return Value::none();
    }
    if (k < 0 || k >= n)
      fail(n == 0 ? "IndexError: pop from empty list" : "IndexError: pop index out of range");
    Value r = list[static_cast<std::size_t>(k)];
    list.erase(list.begin() + k);
    return r;
  }
  if (m == "index" || m == "count" || m == "remove") {
    Value x = a.get(0, "value");
    std::int64_t count = 0;
    in.steps(list.size());  // the comparisons below
    for (std::size_t k = 0; k < list.size(); ++k)
      if (equals(list[k], x)) {
        if (m == "index") return Value::integer(static_cast<std::int64_t>(k));
        if (m == "remove") {
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(k));
          return Value::none();
        }
        ++count;
      }
    if (m == "count") return Value::integer(count);
    fail("ValueError: " + std::string(m == "index" ? "list.index(x)" : "list.remove(x)") +
         ": x not in list");
  }
  if (m == "reverse") {
    std::reverse(list.begin(), list.end());
    return Value::none();
  }
  if (m == "clear") {
    list.clear();
    return Value::none();
  }
  return in.list(list);
}

}  // namespace

bool has_method(const Value& obj, const std::string& name) {
  switch (obj.kind) {
    case Kind::String:
      return in_set(kStr, name);
    case Kind::Dict:
      return in_set(kDict, name);
    case Kind::List:
    case Kind::Tuple:
      return in_set(kList, name);
    default:
      return false;
  }
}

Value call_method(Interp& in, const Value& obj, const std::string& name, Args& args) {
  in.step();
  switch (obj.kind) {
    case Kind::String:
      return string_method(in, obj.str(), name, args);
    case Kind::Dict:
      return dict_method(in, obj, name, args);
    default:
      return list_method(in, obj, name, args);
  }
}

}  // namespace hearth::chat::detail
