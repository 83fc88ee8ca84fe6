// Jinja2's tests (`x is name`), by name, with Python's type rules (a bool is a
// number but not an integer; Undefined is iterable and a sequence).
#include <unordered_map>

#include "chat/interp.h"
#include "chat/strings.h"

namespace hearth::chat::detail {

namespace {

using TestFn = bool (*)(Interp&, const Value&, Args&);

Value arg0(Args& a) {
  if (a.pos.empty()) fail("TypeError: test needs an argument");
  return a.pos[0];
}
bool integral(const Value& v) { return v.kind == Kind::Int; }

const std::unordered_map<std::string, TestFn>& test_table() {
  static const std::unordered_map<std::string, TestFn> t = {
      {"defined", [](Interp&, const Value& v, Args&) { return !v.is_undefined(); }},
      {"undefined", [](Interp&, const Value& v, Args&) { return v.is_undefined(); }},
      {"none", [](Interp&, const Value& v, Args&) { return v.is_none(); }},
      {"boolean", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Bool; }},
      {"true", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Bool && v.b; }},
      {"false", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Bool && !v.b; }},
      {"integer", [](Interp&, const Value& v, Args&) { return integral(v); }},
      {"float", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Float; }},
      {"number", [](Interp&, const Value& v, Args&) { return v.is_number(); }},
      {"string", [](Interp&, const Value& v, Args&) { return v.is_string(); }},
      {"mapping", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Dict; }},
      {"iterable",
       [](Interp&, const Value& v, Args&) {
         return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() ||
                v.kind == Kind::Generator;
       }},
      {"sequence",
       [](Interp&, const Value& v, Args&) {
         return v.is_string() || v.is_list() || v.kind == Kind::Dict || v.is_undefined();
       }},
      {"callable", [](Interp&, const Value& v, Args&) { return v.kind == Kind::Callable; }},
      {"escaped", [](Interp&, const Value&, Args&) { return false; }},
      {"even",
       [](Interp&, const Value& v, Args&) {
         if (!v.is_number()) fail("TypeError: even test needs a number");
         return v.as_int() % 2 == 0;
       }},
      {"odd",
       [](Interp&, const Value& v, Args&) {
         if (!v.is_number()) fail("TypeError: odd test needs a number");
         return v.as_int() % 2 != 0;
       }},
      {"divisibleby",
       [](Interp&, const Value& v, Args& a) {
         Value d = arg0(a);
         if (!v.is_number() || !d.is_number()) fail("TypeError: divisibleby needs numbers");
         if (d.as_int() == 0) fail("ZeroDivisionError: integer division or modulo by zero");
         return v.as_int() % d.as_int() == 0;
       }},
      {"sameas",
       [](Interp&, const Value& v, Args& a) {
         Value o = arg0(a);
         if (v.kind != o.kind) return false;
         if (v.kind == Kind::None || v.kind == Kind::Undefined) return true;
         if (v.kind == Kind::Bool) return v.b == o.b;
         if (v.p) return v.p == o.p;
         return equals(v, o);
       }},
      {"eq", [](Interp&, const Value& v, Args& a) { return equals(v, arg0(a)); }},
      {"equalto", [](Interp&, const Value& v, Args& a) { return equals(v, arg0(a)); }},
      {"==", [](Interp&, const Value& v, Args& a) { return equals(v, arg0(a)); }},
      {"ne", [](Interp&, const Value& v, Args& a) { return !equals(v, arg0(a)); }},
      {"!=", [](Interp&, const Value& v, Args& a) { return !equals(v, arg0(a)); }},
      {"lt", [](Interp&, const Value& v, Args& a) { return less(v, arg0(a)); }},
      {"lessthan", [](Interp&, const Value& v, Args& a) { return less(v, arg0(a)); }},
      {"<", [](Interp&, const Value& v, Args& a) { return less(v, arg0(a)); }},
      {"le", [](Interp&, const Value& v, Args& a) { return !less(arg0(a), v); }},
      {"<=", [](Interp&, const Value& v, Args& a) { return !less(arg0(a), v); }},
      {"gt", [](Interp&, const Value& v, Args& a) { return less(arg0(a), v); }},
      {"greaterthan", [](Interp&, const Value& v, Args& a) { return less(arg0(a), v); }},
      {">", [](Interp&, const Value& v, Args& a) { return less(arg0(a), v); }},
      {"ge", [](Interp&, const Value& v, Args& a) { return !less(v, arg0(a)); }},
      {">=", [](Interp&, const Value& v, Args& a) { return !less(v, arg0(a)); }},
      {"in", [](Interp& in, const Value& v, Args& a) { return in.contains(arg0(a), v); }},
      {"lower", [](Interp&, const Value& v,
                   Args&) { return v.is_string() && py_lower(v.str()) == v.str(); }},
      {"upper", [](Interp&, const Value& v,
                   Args&) { return v.is_string() && py_upper(v.str()) == v.str(); }},
  };
  return t;
}

}  // namespace

bool apply_test(Interp& in, const std::string& name, const Value& subject, Args& args) {
  in.step();
  auto it = test_table().find(name);
  if (it == test_table().end()) fail("TemplateAssertionError: No test named '" + name + "'.");
  return it->second(in, subject, args);
}

}  // namespace hearth::chat::detail
