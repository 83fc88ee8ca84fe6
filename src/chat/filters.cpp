// Jinja2's built-in filters (and Hugging Face's tojson), by name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/interp.h"
#include "chat/strings.h"

namespace hearth::chat::detail {

namespace {

using FilterFn = Value (*)(Interp&, const Value&, Args&);

std::string opt_str(const Value& v, const std::string& dflt) {
  return v.is_undefined() || v.is_none() ? dflt : to_str(v);
}
bool opt_bool(const Value& v, bool dflt) { return v.is_undefined() ? dflt : truthy(v); }
std::int64_t opt_int(const Value& v, std::int64_t dflt) {
  if (v.is_undefined() || v.is_none()) return dflt;
  if (!v.is_number()) fail(std::string("TypeError: expected an integer, got ") + type_name(v));
  if (v.kind == Kind::Float && !(std::fabs(v.f) < 9.2e18))  // NaN too: the cast would be UB
    fail("OverflowError: cannot convert float " + to_str(v) + " to integer");
  return v.kind == Kind::Float ? static_cast<std::int64_t>(v.f) : v.as_int();
}

// Jinja2's make_attrgetter: "a.b" or "0" paths looked up item-first.
Value attr_path(Interp& in, Value v, const std::string& path) {
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    // Up to 18 digits fit an int64; longer runs index nothing real, so stay strings.
    bool digits =
        !part.empty() && part.size() <= 18 && std::all_of(part.begin(), part.end(), ::isdigit);
    v = in.get_item(v, digits ? Value::integer(std::stoll(part)) : Value::string(part));
    if (dot == std::string::npos) return v;
    if (v.is_undefined()) return v;
    start = dot + 1;
  }
}

Value sort_key(Interp& in, const Value& v, const Value& attribute, bool case_sensitive) {
  Value k =
      attribute.is_undefined() || attribute.is_none() ? v : attr_path(in, v, to_str(attribute));
  if (!case_sensitive && k.is_string()) return Value::string(py_lower(k.str()));
  return k;
}

Value f_length(Interp&, const Value& v, Args&) {
  switch (v.kind) {
    case Kind::String:
      return Value::integer(static_cast<std::int64_t>(utf8_length(v.str())));
    case Kind::List:
    case Kind::Tuple:
      return Value::integer(static_cast<std::int64_t>(v.list().size()));
    case Kind::Dict:
    case Kind::Namespace:
      return Value::integer(static_cast<std::int64_t>(v.dict().items.size()));
    case Kind::Undefined:
      return Value::integer(0);
    default:
      fail(std::string("TypeError: object of type '") + type_name(v) + "' has no len()");
  }
}

Value f_default(Interp&, const Value& v, Args& a) {
  Value dflt = a.get(0, "default_value");
  if (dflt.is_undefined() && !a.has(0, "default_value")) dflt = Value::string("");
  if (v.is_undefined() || (opt_bool(a.get(1, "boolean"), false) && !truthy(v))) return dflt;
  return v;
}

Value f_string(Interp& in, const Value& v, Args&) { return v.is_string() ? v : in.str(to_str(v)); }
Value f_safe(Interp& in, const Value& v, Args&) {
  if (v.is_markup()) return v;
  std::string s = to_str(v);
  in.charge(s.size());
  return Value::markup(std::move(s));
}
Value f_trim(Interp& in, const Value& v, Args& a) {
  Value chars = a.get(0, "chars");
  std::string c = chars.is_string() ? chars.str() : std::string();
  return in.str(py_strip(to_str(v), chars.is_string() ? &c : nullptr, true, true));
}
Value f_upper(Interp& in, const Value& v, Args&) { return in.str(py_upper(to_str(v))); }
Value f_lower(Interp& in, const Value& v, Args&) { return in.str(py_lower(to_str(v))); }
Value f_title(Interp& in, const Value& v, Args&) { return in.str(jinja_title(to_str(v))); }
Value f_capitalize(Interp& in, const Value& v, Args&) { return in.str(py_capitalize(to_str(v))); }
Value f_escape(Interp& in, const Value& v, Args&) {
  if (v.is_markup()) return v;
  std::string s = html_escape(to_str(v));
  in.charge(s.size());
  return Value::markup(std::move(s));
}
Value f_forceescape(Interp& in, const Value& v, Args&) {
  std::string s = html_escape(to_str(v));
  in.charge(s.size());
  return Value::markup(std::move(s));
}

Value f_replace(Interp& in, const Value& v, Args& a) {
  std::string s = to_str(v);
  std::string out = py_replace(s, to_str(a.get(0, "old")), to_str(a.get(1, "new")),
                               opt_int(a.get(2, "count"), -1), in.limits().max_value_bytes);
  return in.str(std::move(out));
}

Value f_first(Interp& in, const Value& v, Args&) {
  List l = in.iterate(v);
  return l.empty() ? Value::undefined("no first item, sequence was empty") : l.front();
}
Value f_last(Interp& in, const Value& v, Args&) {
  if (v.kind == Kind::Generator) fail("TypeError: 'generator' object is not reversible");
  List l = in.iterate(v);
  return l.empty() ? Value::undefined("no last item, sequence was empty") : l.back();
}
Value f_list(Interp& in, const Value& v, Args&) { return in.list(in.iterate(v)); }

Value f_join(Interp& in, const Value& v, Args& a) {
  std::string sep = opt_str(a.get(0, "d"), "");
  Value attribute = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& x : in.iterate(v)) {
    if (!first) out += sep;
    first = false;
    append_str(out, attribute.is_undefined() ? x : attr_path(in, x, to_str(attribute)));
    if (out.size() > in.limits().max_value_bytes) in.charge(out.size());
  }
  return in.str(std::move(out));
}

Value f_items(Interp& in, const Value& v, Args&) {
  if (v.is_undefined()) return in.list({});
  if (!v.is_dict())
    fail(std::string("TypeError: can only get item pairs from a mapping, not ") + type_name(v));
  List out;
  for (const auto& [k, x] : v.dict().items) out.push_back(in.list({k, x}, Kind::Tuple));
  return in.list(std::move(out));
}

Value f_dictsort(Interp& in, const Value& v, Args& a) {
  bool cs = opt_bool(a.get(0, "case_sensitive"), false);
  std::string by = opt_str(a.get(1, "by"), "key");
  bool reverse = opt_bool(a.get(2, "reverse"), false);
  if (!v.is_dict()) fail("FilterArgumentError: dictsort needs a mapping");
  int pos = by == "key" ? 0 : by == "value" ? 1 : -1;
  if (pos < 0) fail("FilterArgumentError: You can only sort by either \"key\" or \"value\"");
  auto items = v.dict().items;
  auto key = [&](const std::pair<Value, Value>& p) {
    const Value& k = pos == 0 ? p.first : p.second;
    return !cs && k.is_string() ? Value::string(py_lower(k.str())) : k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    return reverse ? less(key(y), key(x)) : less(key(x), key(y));
  });
  List out;
  for (auto& [k, x] : items) out.push_back(in.list({k, x}, Kind::Tuple));
  return in.list(std::move(out));
}

Value f_tojson(Interp& in, const Value& v, Args& a) {
  bool ensure_ascii = opt_bool(a.get(0, "ensure_ascii"), false);
  Value indent = a.get(1, "indent");
  int ind = indent.is_undefined() || indent.is_none() ? -1 : static_cast<int>(opt_int(indent, 0));
  std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
  Value seps = a.get(2, "separators");
  if (seps.is_list() && seps.list().size() == 2) {
    item_sep = to_str(seps.list()[0]);
    key_sep = to_str(seps.list()[1]);
  }
  return in.str(
      to_json(in, v, ensure_ascii, ind, item_sep, key_sep, opt_bool(a.get(3, "sort_keys"), false)));
}

Value f_int(Interp&, const Value& v, Args& a) {
  Value dflt = a.has(0, "default") ? a.get(0, "default") : Value::integer(0);
  if (v.is_int()) return Value::integer(v.as_int());
  if (v.kind == Kind::Float) {
    if (!std::isfinite(v.f) || std::fabs(v.f) > 9.2e18) return dflt;
    return Value::integer(static_cast<std::int64_t>(v.f));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.str(), nullptr, true, true);
    int base = static_cast<int>(opt_int(a.get(1, "base"), 10));
    std::string digits;
    for (char c : s)
      if (c != '_') digits += c;
    errno = 0;
    char* end = nullptr;
    long long r = std::strtoll(digits.c_str(), &end, base);
    if (!digits.empty() && end && *end == 0 && errno == 0) return Value::integer(r);
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0 && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(static_cast<std::int64_t>(d));
  }
  return dflt;
}

Value f_float(Interp&, const Value& v, Args& a) {
  Value dflt = a.has(0, "default") ? a.get(0, "default") : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.str(), nullptr, true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return Value::number(d);
  }
  return dflt;
}

Value f_abs(Interp&, const Value& v, Args&) {
  if (v.kind == Kind::Float) return Value::number(std::fabs(v.f));
  if (v.is_int()) {
    if (v.as_int() == INT64_MIN) fail("OverflowError: integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  fail(std::string("TypeError: bad operand type for abs(): '") + type_name(v) + "'");
}

Value f_round(Interp&, const Value& v, Args& a) {
  if (!v.is_number())
    fail(std::string("TypeError: type ") + type_name(v) + " doesn't define __round__");
  std::int64_t prec = opt_int(a.get(0, "precision"), 0);
  std::string method = opt_str(a.get(1, "method"), "common");
  if (method == "common") {
    if (v.is_int() && prec >= 0) return Value::integer(v.as_int());  // Python: round(int) is int
    if (prec >= 0 && prec < 300 && std::isfinite(v.f)) {
      // Python rounds the exact binary value correctly, as printf does.
      char buf[400];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(prec), v.f);
      return Value::number(std::strtod(buf, nullptr));
    }
  }
  double scale = std::pow(10.0, static_cast<double>(prec));
  double x = v.as_double() * scale, r;
  if (method == "common") {
    r = std::nearbyint(x);
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    fail("FilterArgumentError: method must be common, ceil or floor");
  }
  return Value::number(r / scale);
}

Value f_sum(Interp& in, const Value& v, Args& a) {
  Value attribute = a.get(0, "attribute");
  Value total = a.has(1, "start") ? a.get(1, "start") : Value::integer(0);
  for (const Value& x : in.iterate(v))
    total = in.binary(Op::Add, total,
                      attribute.is_undefined() ? x : attr_path(in, x, to_str(attribute)));
  return total;
}

Value min_max(Interp& in, const Value& v, Args& a, bool want_max) {
  bool cs = opt_bool(a.get(0, "case_sensitive"), false);
  Value attribute = a.get(1, "attribute");
  List l = in.iterate(v);
  if (l.empty())
    return Value::undefined(want_max ? "No aggregated item, sequence was empty."
                                     : "No aggregated item, sequence was empty.");
  std::size_t best = 0;
  for (std::size_t k = 1; k < l.size(); ++k) {
    Value kb = sort_key(in, l[best], attribute, cs), kk = sort_key(in, l[k], attribute, cs);
    if (want_max ? less(kb, kk) : less(kk, kb)) best = k;
  }
  return l[best];
}
Value f_min(Interp& in, const Value& v, Args& a) { return min_max(in, v, a, false); }
Value f_max(Interp& in, const Value& v, Args& a) { return min_max(in, v, a, true); }

Value f_sort(Interp& in, const Value& v, Args& a) {
  bool reverse = opt_bool(a.get(0, "reverse"), false);
  bool cs = opt_bool(a.get(1, "case_sensitive"), false);
  Value attribute = a.get(2, "attribute");
  List l = in.iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& x : l) keyed.emplace_back(sort_key(in, x, attribute, cs), x);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  List out;
  for (auto& kv : keyed) out.push_back(kv.second);
  return in.list(std::move(out));
}

Value f_unique(Interp& in, const Value& v, Args& a) {
  bool cs = opt_bool(a.get(0, "case_sensitive"), false);
  Value attribute = a.get(1, "attribute");
  List out, seen;
  for (const Value& x : in.iterate(v)) {
    Value k = sort_key(in, x, attribute, cs);
    in.steps(seen.size());  // the comparisons below: quadratic in the input
    bool dup = std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); });
    if (!dup) {
      seen.push_back(k);
      out.push_back(x);
    }
  }
  return in.list(std::move(out));
}

Value f_reverse(Interp& in, const Value& v, Args&) {
  if (v.is_string()) return slice(in, v, Value::none(), Value::none(), Value::integer(-1));
  List l = in.iterate(v);
  std::reverse(l.begin(), l.end());
  return in.list(std::move(l));
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute)
// passes the named test (or is truthy) == keep.
Value select_impl(Interp& in, const Value& v, Args& a, bool by_attr, bool keep) {
  if (!truthy(v)) return in.list({}, Kind::Generator);  // Jinja2: `if value:` first
  std::size_t k = 0;
  std::string attr;
  if (by_attr) attr = to_str(a.get(k++, "attribute"));
  Value test = k < a.pos.size() ? a.pos[k] : Value::undefined();
  Args targs;
  for (std::size_t j = k + 1; j < a.pos.size(); ++j) targs.pos.push_back(a.pos[j]);
  List out;
  for (const Value& x : in.iterate(v)) {
    in.step();
    Value subject = by_attr ? attr_path(in, x, attr) : x;
    bool r = test.is_undefined() ? truthy(subject) : apply_test(in, to_str(test), subject, targs);
    if (r == keep) out.push_back(x);
  }
  return in.list(std::move(out), Kind::Generator);
}
Value f_select(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, Args& a) {
  return select_impl(in, v, a, true, true);
}
Value f_rejectattr(Interp& in, const Value& v, Args& a) {
  return select_impl(in, v, a, true, false);
}

Value f_map(Interp& in, const Value& v, Args& a) {
  List out;
  if (!truthy(v)) return in.list({}, Kind::Generator);
  Value attribute = a.get(99, "attribute");
  if (!attribute.is_undefined()) {
    Value dflt = a.get(99, "default");
    for (const Value& x : in.iterate(v)) {
      Value r = attr_path(in, x, to_str(attribute));
      out.push_back(r.is_undefined() && a.has(99, "default") ? dflt : r);
    }
    return in.list(std::move(out), Kind::Generator);
  }
  if (a.pos.empty()) fail("FilterArgumentError: map requires a filter argument");
  std::string name = to_str(a.pos[0]);
  for (const Value& x : in.iterate(v)) {
    in.step();
    Args fargs;
    fargs.pos.assign(a.pos.begin() + 1, a.pos.end());
    fargs.kw = a.kw;
    out.push_back(apply_filter(in, name, x, fargs));
  }
  return in.list(std::move(out), Kind::Generator);
}

Value f_indent(Interp& in, const Value& v, Args& a) {
  Value width = a.get(0, "width");
  std::string ind =
      width.is_string()
          ? width.str()
          : std::string(
                static_cast<std::size_t>(std::clamp<std::int64_t>(opt_int(width, 4), 0, 1 << 20)),
                ' ');
  bool first = opt_bool(a.get(1, "first"), false);
  bool blank = opt_bool(a.get(2, "blank"), false);
  std::string s = to_str(v) + "\n";
  std::vector<std::string> lines = py_splitlines(s);
  std::string out;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    if (k > 0) out += "\n";
    if (k > 0 && (blank || !lines[k].empty())) out += ind;
    out += lines[k];
    if (out.size() > in.limits().max_value_bytes) in.charge(out.size());
  }
  if (first) out = ind + out;
  return in.str(std::move(out));
}

Value f_batch(Interp& in, const Value& v, Args& a) {
  std::int64_t n = opt_int(a.get(0, "linecount"), 1);
  if (n <= 0) fail("FilterArgumentError: batch size must be positive");
  bool fill = a.has(1, "fill_with");
  Value fill_with = a.get(1, "fill_with");
  List out, cur;
  for (const Value& x : in.iterate(v)) {
    cur.push_back(x);
    if (static_cast<std::int64_t>(cur.size()) == n)
      out.push_back(in.list(std::move(cur))), cur.clear();
  }
  if (!cur.empty()) {
    while (fill && static_cast<std::int64_t>(cur.size()) < n) cur.push_back(fill_with);
    out.push_back(in.list(std::move(cur)));
  }
  return in.list(std::move(out));
}

Value f_format(Interp& in, const Value& v, Args& a) {
  return in.str(py_format(in, to_str(v), in.list(a.pos, Kind::Tuple)));
}
Value f_pprint(Interp& in, const Value& v, Args&) {
  std::string s;
  append_repr(s, v);
  return in.str(std::move(s));
}
Value f_attr(Interp& in, const Value& v, Args& a) {
  return in.get_attr(v, to_str(a.get(0, "name")));
}
Value f_wordcount(Interp&, const Value& v, Args&) {
  return Value::integer(static_cast<std::int64_t>(py_split(to_str(v), nullptr, -1).size()));
}
Value f_truncate(Interp& in, const Value& v, Args& a) {
  // Jinja2: length=255, killwords=False, end='...', leeway=5 (the default policy).
  std::string s = to_str(v);
  std::int64_t length = opt_int(a.get(0, "length"), 255);
  bool killwords = opt_bool(a.get(1, "killwords"), false);
  std::string end = opt_str(a.get(2, "end"), "...");
  std::int64_t leeway = opt_int(a.get(3, "leeway"), 5);
  if (length < static_cast<std::int64_t>(utf8_length(end)))
    fail("FilterArgumentError: expected length >= " + std::to_string(utf8_length(end)));
  if (leeway < 0) fail("FilterArgumentError: expected leeway >= 0");
  if (static_cast<std::int64_t>(utf8_length(s)) <= length + leeway)
    return v.is_string() ? v : in.str(s);
  Value keep =
      slice(in, Value::string(s), Value::none(),
            Value::integer(length - static_cast<std::int64_t>(utf8_length(end))), Value::none());
  std::string head = keep.str();
  if (!killwords) {
    std::size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  return in.str(head + end);
}

Value f_center(Interp& in, const Value& v, Args& a) {
  std::string s = to_str(v);
  std::int64_t width = std::min<std::int64_t>(opt_int(a.get(0, "width"), 80), 1 << 20);
  std::int64_t len = static_cast<std::int64_t>(utf8_length(s));
  if (width <= len) return in.str(s);
  std::int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
  return in.str(std::string(static_cast<std::size_t>(left), ' ') + s +
                std::string(static_cast<std::size_t>(pad - left), ' '));
}

const std::unordered_map<std::string, FilterFn>& filter_table() {
  static const std::unordered_map<std::string, FilterFn> t = {
      {"length", f_length},
      {"count", f_length},
      {"default", f_default},
      {"d", f_default},
      {"string", f_string},
      {"safe", f_safe},
      {"trim", f_trim},
      {"upper", f_upper},
      {"lower", f_lower},
      {"title", f_title},
      {"capitalize", f_capitalize},
      {"escape", f_escape},
      {"e", f_escape},
      {"forceescape", f_forceescape},
      {"replace", f_replace},
      {"first", f_first},
      {"last", f_last},
      {"list", f_list},
      {"join", f_join},
      {"items", f_items},
      {"dictsort", f_dictsort},
      {"tojson", f_tojson},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"sum", f_sum},
      {"min", f_min},
      {"max", f_max},
      {"sort", f_sort},
      {"unique", f_unique},
      {"reverse", f_reverse},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"map", f_map},
      {"indent", f_indent},
      {"batch", f_batch},
      {"format", f_format},
      {"pprint", f_pprint},
      {"attr", f_attr},
      {"wordcount", f_wordcount},
      {"center", f_center},
      {"truncate", f_truncate},
  };
  return t;
}

}  // namespace

Value apply_filter(Interp& in, const std::string& name, const Value& subject, Args& args) {
  in.step();
  auto it = filter_table().find(name);
  if (it == filter_table().end()) fail("TemplateAssertionError: No filter named '" + name + "'.");
  return it->second(in, subject, args);
}

}  // namespace hearth::chat::detail
