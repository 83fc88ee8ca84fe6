#include "grammar/schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "grammar/json_constraint.h"

namespace hearth::grammar::detail {
namespace {

// Keywords that constrain values in ways hearth does not enforce, and why.
const std::map<std::string_view, std::string_view>& refused() {
  static const std::map<std::string_view, std::string_view> m = {
      {"pattern",
       "regular expressions are not supported; use enum or describe the format in "
       "the prompt"},
      {"patternProperties", "regular expressions are not supported"},
      {"propertyNames", "constraints on property names are not supported"},
      {"minProperties", "property counts are not supported"},
      {"maxProperties", "property counts are not supported"},
      {"dependentRequired", "dependencies between properties are not supported"},
      {"dependentSchemas", "dependencies between properties are not supported"},
      {"dependencies", "dependencies between properties are not supported"},
      {"if", "conditional schemas are not supported"},
      {"then", "conditional schemas are not supported"},
      {"else", "conditional schemas are not supported"},
      {"not", "negated schemas are not supported"},
      {"contains", "contains is not supported"},
      {"minContains", "contains is not supported"},
      {"maxContains", "contains is not supported"},
      {"prefixItems", "tuples are not supported; use items"},
      {"additionalItems", "tuples are not supported; use items"},
      {"unevaluatedItems", "unevaluated* is not supported"},
      {"unevaluatedProperties", "unevaluated* is not supported"},
      {"multipleOf", "multipleOf is not supported"},
      {"$dynamicRef", "dynamic references are not supported"},
      {"$recursiveRef", "dynamic references are not supported"},
  };
  return m;
}

// Keywords hearth enforces; a combinator ($ref, anyOf, oneOf, allOf) next to
// another of these is refused rather than half-enforced, but for "type", which
// the combinator's alternatives inherit (Compiler::compile's `within`).
constexpr std::string_view kValidation[] = {"type",
                                            "properties",
                                            "required",
                                            "additionalProperties",
                                            "items",
                                            "minItems",
                                            "maxItems",
                                            "minLength",
                                            "maxLength",
                                            "minimum",
                                            "maximum",
                                            "exclusiveMinimum",
                                            "exclusiveMaximum",
                                            "enum",
                                            "const",
                                            "anyOf",
                                            "oneOf",
                                            "allOf",
                                            "$ref"};

std::string pointer_token(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// JSON types as bits, for "type" beside a combinator: the types its
// alternatives may still produce. kNumber stands for the numbers that are not
// integers, so "number" is kNumber | kInteger.
enum TypeBits : uint8_t {
  kObject = 1,
  kArray = 2,
  kString = 4,
  kInteger = 8,
  kNumber = 16,
  kBoolean = 32,
  kNull = 64,
  kAnyType = 127,
};

// The bits of a JSON value's type (3 and 3.0 are integers, as JSON schema says).
template <class Json>
uint8_t value_type(const Json& v) {
  if (v.is_object()) return kObject;
  if (v.is_array()) return kArray;
  if (v.is_string()) return kString;
  if (v.is_boolean()) return kBoolean;
  if (v.is_null()) return kNull;
  if (v.is_number_float()) {
    const double x = v.template get<double>();
    return std::isfinite(x) && std::floor(x) == x ? kInteger : kNumber;
  }
  return kInteger;
}

int64_t clamp_to_int64(long double x) {
  constexpr long double kMax = 9223372036854775807.0L, kMin = -9223372036854775808.0L;
  if (x >= kMax) return std::numeric_limits<int64_t>::max();
  if (x <= kMin) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(x);
}

template <class Json>
class Compiler {
 public:
  explicit Compiler(const Json& root) : root_(root) {}

  Grammar run() {
    if (root_.is_null() || (root_.is_string() && root_.template get<std::string>() == "json")) {
      any();
      g_.root = any_object_;
    } else if (root_.is_string()) {
      fail("", "format '" + root_.template get<std::string>() +
                   "' is not supported (\"json\" or a JSON schema)");
    } else {
      g_.root = compile(root_, "", 0, false);
    }
    if (!g_.finish())
      fail("",
           "the schema has no value that nests less than 128 levels deep (does a required "
           "property or item recurse without end?)");
    if (!filters_.empty()) {
      const Machine m(g_);
      for (const Filter& f : filters_) {
        auto& lits = g_.nodes[f.literals].literals;
        std::erase_if(lits, [&](const std::string& l) { return !m.matches(f.schema, l); });
        if (lits.empty())
          fail(f.ptr, "no value of 'enum'/'const' satisfies the rest of the schema");
      }
      if (!g_.finish()) fail("", "the schema has no value that nests less than 128 levels deep");
    }
    return std::move(g_);
  }

 private:
  struct Filter {
    uint32_t literals, schema;
    std::string ptr;
  };

  [[noreturn]] static void fail(const std::string& ptr, const std::string& what) {
    throw SchemaError("schema at '" + ptr + "': " + what);
  }

  static bool has(const Json& s, std::string_view k) { return s.contains(std::string(k)); }

  // Refuses keyword `k` next to another validation keyword but "type".
  static void alone(const Json& s, std::string_view k, const std::string& ptr) {
    for (const auto other : kValidation)
      if (other != k && other != "type" && has(s, other))
        fail(ptr, "'" + std::string(k) + "' together with '" + std::string(other) +
                      "' is not supported");
  }

  uint32_t any() {
    if (any_ != kNoNode) return any_;
    any_ = g_.add(Node{});  // a union, alternatives below
    Node obj;
    obj.kind = Kind::Object;
    obj.extra = any_;
    obj.next_required = {0};
    any_object_ = g_.add(std::move(obj));
    Node arr;
    arr.kind = Kind::Array;
    arr.items = any_;
    const uint32_t a = g_.add(std::move(arr));
    Node str;
    str.kind = Kind::String;
    const uint32_t s = g_.add(std::move(str));
    Node num;
    num.kind = Kind::Number;
    const uint32_t n = g_.add(std::move(num));
    Node lit;
    lit.kind = Kind::Literals;
    lit.literals = {"false", "null", "true"};
    const uint32_t l = g_.add(std::move(lit));
    g_.nodes[any_].alts = {any_object_, a, s, n, l};
    return any_;
  }

  uint32_t literals(std::vector<std::string> lits) {
    std::sort(lits.begin(), lits.end());
    lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
    Node n;
    n.kind = Kind::Literals;
    n.literals = std::move(lits);
    return g_.add(std::move(n));
  }

  static std::string dump(const Json& v, const std::string& ptr) {
    try {
      return v.dump();
    } catch (const nlohmann::json::exception& e) {
      fail(ptr, std::string("value cannot be written as JSON: ") + e.what());
    }
  }

  static std::optional<long double> number(const Json& s, const char* k, const std::string& ptr) {
    if (!s.contains(k)) return std::nullopt;
    const Json& v = s[k];
    if (!v.is_number()) fail(ptr, std::string("'") + k + "' must be a number");
    return v.template get<long double>();
  }

  static uint32_t count(const Json& s, const char* k, uint32_t dflt, const std::string& ptr) {
    if (!s.contains(k)) return dflt;
    const Json& v = s[k];
    if (!v.is_number() || v.template get<long double>() < 0 ||
        std::floor(v.template get<long double>()) != v.template get<long double>())
      fail(ptr, std::string("'") + k + "' must be a non-negative integer");
    const long double x = v.template get<long double>();
    return x >= 4294967295.0L ? kUnbounded : static_cast<uint32_t>(x);
  }

  // The target of a reference, compiled once per `within` (kNoNode where it
  // has no value of those types).
  uint32_t ref(const Json& r, const std::string& ptr, int depth, uint8_t within) {
    if (!r.is_string()) fail(ptr, "'$ref' must be a string");
    const std::string target = r.template get<std::string>();
    const std::string key =
        within == kAnyType ? target : target + "\n" + std::to_string(static_cast<int>(within));
    if (auto it = refs_.find(key); it != refs_.end()) return it->second;
    if (target.empty() || target[0] != '#')
      fail(ptr, "'$ref' '" + target +
                    "' is not supported (only references within the schema, "
                    "\"#/$defs/...\")");
    const Json* t = nullptr;
    try {
      t = &root_.at(typename Json::json_pointer(target.substr(1)));
    } catch (const nlohmann::json::exception&) {
      fail(ptr, "'$ref' '" + target + "' does not resolve within the schema");
    }
    const uint32_t alias = g_.add(Node{});  // a union of one: the target, once compiled
    refs_[key] = alias;
    const uint32_t node = compile(*t, target.substr(1), depth + 1, false, within);
    if (node == kNoNode) {  // (a use inside its own cycle keeps the empty union: no value)
      refs_[key] = kNoNode;
      return kNoNode;
    }
    g_.nodes[alias].alts = {node};
    return alias;
  }

  // The names in a schema's "type", checked.
  static std::vector<std::string> type_names(const Json& t, const std::string& ptr) {
    std::vector<std::string> types;
    if (t.is_string()) {
      types.push_back(t.template get<std::string>());
    } else if (t.is_array() && !t.empty()) {
      for (const Json& e : t) {
        if (!e.is_string()) fail(ptr, "'type' must be a string or an array of strings");
        types.push_back(e.template get<std::string>());
      }
    } else {
      fail(ptr, "'type' must be a string or a non-empty array of strings");
    }
    for (const auto& name : types) (void)type_bits(name, ptr);
    return types;
  }

  static uint8_t type_bits(const std::string& type, const std::string& ptr) {
    if (type == "object") return kObject;
    if (type == "array") return kArray;
    if (type == "string") return kString;
    if (type == "integer") return kInteger;
    if (type == "number") return kNumber | kInteger;
    if (type == "boolean") return kBoolean;
    if (type == "null") return kNull;
    fail(ptr,
         "unknown type '" + type + "' (object, array, string, number, integer, boolean or null)");
  }

  // `types` narrowed to `within` ("number" within integers is "integer").
  static std::vector<std::string> narrow(const std::vector<std::string>& types, uint8_t within) {
    std::vector<std::string> out;
    for (const auto& t : types) {
      if (t == "number" && !(within & kNumber)) {
        if (within & kInteger) out.push_back("integer");
      } else if (type_bits(t, "") & within) {
        out.push_back(t);
      }
    }
    return out;
  }

  static std::vector<std::string> names(uint8_t within) {
    std::vector<std::string> out;
    for (const char* t : {"object", "array", "string", "number", "boolean", "null"})
      if (type_bits(t, "") & within) out.push_back(t);
    return narrow(out, within);
  }

  // `within`: the types a "type" beside a combinator further up leaves to this
  // schema; kNoNode where it has no value of them (the combinator drops it).
  uint32_t compile(const Json& s, const std::string& ptr, int depth, bool skip_enum,
                   uint8_t within = kAnyType) {
    if (depth > kMaxSchemaDepth)
      fail(ptr, "nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    if (g_.nodes.size() > kMaxSchemaNodes)
      fail(ptr, "the schema is too large: its grammar has more than " +
                    std::to_string(kMaxSchemaNodes) + " nodes");
    if (s.is_boolean()) {
      if (!s.template get<bool>()) fail(ptr, "the schema false matches nothing");
      return within == kAnyType ? any() : any_value(within);
    }
    if (!s.is_object())
      fail(ptr, std::string("a schema must be an object or a boolean, not ") + s.type_name());
    for (const auto& [k, v] : s.items()) {
      if (auto it = refused().find(k); it != refused().end())
        fail(ptr, "keyword '" + k + "' is not supported (" + std::string(it->second) + ")");
      if (k == "uniqueItems" && !(v.is_boolean() && !v.template get<bool>()))
        fail(ptr, "keyword 'uniqueItems' is not supported (unique items cannot be enforced)");
    }
    const bool combinator = has(s, "$ref") || has(s, "allOf") || has(s, "anyOf") || has(s, "oneOf");
    if (combinator && has(s, "type")) {
      // "type" beside a combinator: each alternative keeps only values of those types.
      std::vector<std::string> types = narrow(type_names(s["type"], ptr), within);
      uint8_t inner = 0;
      for (const auto& t : types) inner |= type_bits(t, ptr);
      if (inner == 0) return kNoNode;
      const uint32_t node = combination(s, ptr, depth, inner);
      if (node == kNoNode && within == kAnyType)
        fail(ptr, "no alternative of the schema has a value of the type that 'type' names");
      return node;
    }
    if (combinator) return combination(s, ptr, depth, within);
    if (!skip_enum && (has(s, "enum") || has(s, "const")))
      return enumeration(s, ptr, depth, within);

    std::vector<std::string> types;
    if (has(s, "type")) {
      types = type_names(s["type"], ptr);
      if (within != kAnyType && (types = narrow(types, within)).empty()) return kNoNode;
    } else {
      auto any_of = [&](std::initializer_list<const char*> ks) {
        return std::any_of(ks.begin(), ks.end(), [&](const char* k) { return has(s, k); });
      };
      if (any_of({"properties", "required", "additionalProperties"})) types.push_back("object");
      if (any_of({"items", "minItems", "maxItems"})) types.push_back("array");
      if (any_of({"minLength", "maxLength"})) types.push_back("string");
      if (any_of({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}))
        types.push_back("number");
      if (within != kAnyType) {
        // Keywords of other types do not apply to a value of `within`'s: any such value.
        types = narrow(types, within);
        if (types.empty()) return any_value(within);
      }
      if (types.empty()) return any();
    }
    return types_node(types, s, ptr, depth);
  }

  // $ref, allOf or anyOf/oneOf (alone, or beside "type": `within`).
  uint32_t combination(const Json& s, const std::string& ptr, int depth, uint8_t within) {
    if (has(s, "$ref")) {
      alone(s, "$ref", ptr);
      return ref(s["$ref"], ptr, depth, within);
    }
    if (has(s, "allOf")) {
      alone(s, "allOf", ptr);
      const Json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1)
        fail(ptr, "'allOf' is supported with exactly one schema only");
      return compile(all[0], ptr + "/allOf/0", depth + 1, false, within);
    }
    const char* k = has(s, "anyOf") ? "anyOf" : "oneOf";
    alone(s, k, ptr);
    const Json& alts = s[k];
    if (!alts.is_array() || alts.empty())
      fail(ptr, std::string("'") + k + "' must be a non-empty array");
    Node u;
    for (size_t i = 0; i < alts.size(); ++i) {
      const uint32_t alt =
          compile(alts[i], ptr + "/" + k + "/" + std::to_string(i), depth + 1, false, within);
      if (alt != kNoNode) u.alts.push_back(alt);
    }
    if (u.alts.empty()) return kNoNode;
    return g_.add(std::move(u));
  }

  // Any value of the types `within` (objects as any() writes them).
  uint32_t any_value(uint8_t within) {
    static const Json kEmpty = Json::object();
    any();
    Node u;
    for (const auto& t : names(within))
      u.alts.push_back(t == "object" ? any_object_ : compile_type(t, kEmpty, "", 0));
    return g_.add(std::move(u));
  }

  uint32_t types_node(const std::vector<std::string>& types, const Json& s, const std::string& ptr,
                      int depth) {
    if (types.size() == 1) return compile_type(types[0], s, ptr, depth);
    Node u;
    for (const auto& t : types) u.alts.push_back(compile_type(t, s, ptr, depth));
    return g_.add(std::move(u));
  }

  uint32_t enumeration(const Json& s, const std::string& ptr, int depth, uint8_t within) {
    std::vector<std::string> lits;
    if (has(s, "enum")) {
      const Json& e = s["enum"];
      if (!e.is_array() || e.empty()) fail(ptr, "'enum' must be a non-empty array");
      // A bound on the work and memory one request can ask for (the values
      // become a trie of their bytes).
      if (e.size() > kMaxEnumValues)
        fail(ptr, "'enum' has " + std::to_string(e.size()) + " values (at most " +
                      std::to_string(kMaxEnumValues) + ")");
      bool any_const = false;
      for (const Json& v : e) {
        if (has(s, "const") && v != s["const"]) continue;
        any_const = true;
        if (value_type(v) & within) lits.push_back(dump(v, ptr + "/enum"));
      }
      if (!any_const) fail(ptr, "'const' is not among the values of 'enum'");
    } else if (value_type(s["const"]) & within) {
      lits.push_back(dump(s["const"], ptr + "/const"));
    }
    if (lits.empty()) return kNoNode;  // (only where `within` leaves out every value)
    bool constrained = false;
    for (const auto k : kValidation)
      constrained = constrained || (k != "enum" && k != "const" && has(s, k));
    uint32_t schema = kNoNode;
    if (constrained) schema = compile(s, ptr, depth, true);
    const uint32_t node = literals(std::move(lits));
    if (constrained) filters_.push_back({node, schema, ptr});
    return node;
  }

  uint32_t compile_type(const std::string& type, const Json& s, const std::string& ptr, int depth) {
    Node n;
    if (type == "object") {
      n.kind = Kind::Object;
      if (has(s, "properties")) {
        const Json& props = s["properties"];
        if (!props.is_object()) fail(ptr, "'properties' must be an object");
        for (const auto& [name, sub] : props.items()) {
          const std::string sub_ptr = ptr + "/properties/" + pointer_token(name);
          n.props.push_back(
              {dump(Json(name), sub_ptr), compile(sub, sub_ptr, depth + 1, false), false});
        }
      }
      if (has(s, "required")) {
        const Json& req = s["required"];
        if (!req.is_array()) fail(ptr, "'required' must be an array of strings");
        for (const Json& r : req) {
          if (!r.is_string()) fail(ptr, "'required' must be an array of strings");
          const std::string key = dump(r, ptr + "/required");
          auto it = std::find_if(n.props.begin(), n.props.end(),
                                 [&](const Property& p) { return p.key == key; });
          if (it == n.props.end())
            fail(ptr, "required property " + key + " is not listed in 'properties'");
          it->required = true;
        }
      }
      if (has(s, "additionalProperties")) {
        const Json& ap = s["additionalProperties"];
        if (!(ap.is_boolean() && !ap.template get<bool>()))
          n.extra = compile(ap, ptr + "/additionalProperties", depth + 1, false);
      }
      n.next_required.assign(n.props.size() + 1, static_cast<uint32_t>(n.props.size()));
      for (size_t i = n.props.size(); i-- > 0;)
        n.next_required[i] =
            n.props[i].required ? static_cast<uint32_t>(i) : n.next_required[i + 1];
    } else if (type == "array") {
      n.kind = Kind::Array;
      if (has(s, "items")) {
        const Json& items = s["items"];
        if (items.is_array()) fail(ptr, "'items' as an array (tuples) is not supported");
        n.items = compile(items, ptr + "/items", depth + 1, false);
      } else {
        n.items = any();
      }
      n.min_items = count(s, "minItems", 0, ptr);
      n.max_items = count(s, "maxItems", kUnbounded, ptr);
      if (n.min_items > n.max_items) fail(ptr, "'minItems' is greater than 'maxItems'");
    } else if (type == "string") {
      n.kind = Kind::String;
      n.min_len = count(s, "minLength", 0, ptr);
      n.max_len = count(s, "maxLength", kUnbounded, ptr);
      if (n.min_len > n.max_len) fail(ptr, "'minLength' is greater than 'maxLength'");
    } else if (type == "integer" || type == "number") {
      n.kind = type == "integer" ? Kind::Integer : Kind::Number;
      bounds(n, s, ptr);
    } else if (type == "boolean") {
      return literals({"false", "true"});
    } else if (type == "null") {
      return literals({"null"});
    } else {
      fail(ptr,
           "unknown type '" + type + "' (object, array, string, number, integer, boolean or null)");
    }
    return g_.add(std::move(n));
  }

  static void bounds(Node& n, const Json& s, const std::string& ptr) {
    auto minimum = number(s, "minimum", ptr), maximum = number(s, "maximum", ptr);
    // exclusiveMinimum/Maximum: a number (draft 6+) or a boolean that makes
    // minimum/maximum exclusive (draft 4).
    for (const char* k : {"exclusiveMinimum", "exclusiveMaximum"}) {
      if (!has(s, k)) continue;
      const Json& v = s[k];
      const bool lower = std::string_view(k) == "exclusiveMinimum";
      auto& bound = lower ? minimum : maximum;
      bool& excl = lower ? n.a_exclusive : n.b_exclusive;
      if (v.is_boolean()) {
        excl = v.template get<bool>() && bound.has_value();
      } else if (v.is_number()) {
        const long double x = v.template get<long double>();
        // The stricter of the two bounds wins.
        if (!bound || (lower ? x >= *bound : x <= *bound)) bound = x, excl = true;
      } else {
        fail(ptr, std::string("'") + k + "' must be a number or a boolean");
      }
    }
    n.bounded = minimum || maximum;
    if (minimum) n.a = *minimum;
    if (maximum) n.b = *maximum;
    constexpr long double kLimit = 9223372036854775807.0L;
    if ((minimum && n.a > kLimit) || (maximum && n.b < -kLimit))
      fail(ptr, "'minimum'/'maximum' lie beyond the 64-bit integer range");
    if (minimum) n.lo = clamp_to_int64(n.a_exclusive ? std::floor(n.a) + 1 : std::ceil(n.a));
    if (maximum) n.hi = clamp_to_int64(n.b_exclusive ? std::ceil(n.b) - 1 : std::floor(n.b));
    if (n.lo > n.hi) {
      fail(ptr, n.kind == Kind::Integer
                    ? "no integer lies within 'minimum'/'maximum'"
                    : "no integer lies within 'minimum'/'maximum' (hearth writes bounded numbers "
                      "as an integer part in range with an optional fraction)");
    }
  }

  const Json& root_;
  Grammar g_;
  std::map<std::string, uint32_t> refs_;
  std::vector<Filter> filters_;
  uint32_t any_ = kNoNode, any_object_ = kNoNode;
};

}  // namespace

Grammar compile_schema(const nlohmann::json& schema) { return Compiler(schema).run(); }
Grammar compile_schema(const nlohmann::ordered_json& schema) { return Compiler(schema).run(); }

}  // namespace hearth::grammar::detail
