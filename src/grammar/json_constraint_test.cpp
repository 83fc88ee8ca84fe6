// TokenConstraint over the real test vocabularies (SPM llama, byte-level BPE
// GPT-2): random walks through the mask must end in documents that parse and
// validate; the mask must agree with accepting each token on its own; hostile
// schemas must be refused with SchemaError.
#include "grammar/json_constraint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "gguf/reader.h"
#include "grammar/json_matcher.h"
#include "grammar/person_schema_test.h"
#include "grammar/schema.h"

namespace hearth::grammar {
namespace {

using ojson = nlohmann::ordered_json;

struct Vocab {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<const VocabIndex> index;
  std::vector<std::string> pieces;  // [n_vocab]
  std::vector<bool> closing;        // [n_vocab]: the piece has '"', '}' or ']'
};

const Vocab& vocab(const std::string& name) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Vocab v;
    v.file = gguf::GgufFile::open(std::string(HEARTH_SOURCE_DIR) + "/tests/data/vocab/ggml-vocab-" +
                                  name + ".gguf");
    v.tok = tokenizer::Tokenizer::from_gguf(*v.file);
    v.index = VocabIndex::build(*v.tok);
    for (int32_t id = 0; id < v.tok->n_vocab(); ++id) {
      v.pieces.push_back(v.tok->piece(id));
      v.closing.push_back(v.pieces.back().find_first_of("\"}]") != std::string::npos);
    }
    it = cache.emplace(name, std::move(v)).first;
  }
  return it->second;
}

// --- a validator for the subset hearth enforces (plus its own stricter
// choices: no undeclared properties unless additionalProperties says so,
// declared properties in schema order) ---------------------------------------

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

std::string validate(const ojson& root, const ojson& s, const ojson& v, const std::string& at);

std::string validate_type(const ojson& root, const std::string& t, const ojson& s, const ojson& v,
                          const std::string& at) {
  if (t == "null") return v.is_null() ? "" : at + ": not null";
  if (t == "boolean") return v.is_boolean() ? "" : at + ": not boolean";
  if (t == "integer" || t == "number") {
    if (t == "integer" ? !v.is_number_integer() : !v.is_number()) return at + ": not " + t;
    const long double x = v.get<long double>();
    if (s.contains("minimum") && x < s["minimum"].get<long double>()) return at + ": < minimum";
    if (s.contains("maximum") && x > s["maximum"].get<long double>()) return at + ": > maximum";
    if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<long double>())
      return at + ": <= exclusiveMinimum";
    if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<long double>())
      return at + ": >= exclusiveMaximum";
    return "";
  }
  if (t == "string") {
    if (!v.is_string()) return at + ": not string";
    const size_t n = code_points(v.get<std::string>());
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return at + ": too short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return at + ": too long";
    return "";
  }
  if (t == "array") {
    if (!v.is_array()) return at + ": not array";
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return at + ": few items";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>())
      return at + ": many items";
    for (size_t i = 0; i < v.size(); ++i) {
      auto e = validate(root, s.value("items", ojson(true)), v[i], at + "/" + std::to_string(i));
      if (!e.empty()) return e;
    }
    return "";
  }
  if (t == "object") {
    if (!v.is_object()) return at + ": not object";
    const ojson props = s.value("properties", ojson::object());
    for (const auto& r : s.value("required", ojson::array()))
      if (!v.contains(r.get<std::string>())) return at + ": missing " + r.dump();
    size_t last = 0;
    for (const auto& [k, val] : v.items()) {
      if (props.contains(k)) {
        size_t idx = 0;
        for (const auto& [pk, pv] : props.items()) {
          if (pk == k) break;
          ++idx;
        }
        if (idx < last) return at + ": property " + k + " out of schema order";
        last = idx;
        auto e = validate(root, props[k], val, at + "/" + k);
        if (!e.empty()) return e;
      } else {
        if (!s.contains("additionalProperties") || s["additionalProperties"] == false)
          return at + ": undeclared property " + k;
        auto e = validate(root, s["additionalProperties"], val, at + "/" + k);
        if (!e.empty()) return e;
      }
    }
    return "";
  }
  return at + ": unknown type " + t;
}

std::string validate(const ojson& root, const ojson& s, const ojson& v, const std::string& at) {
  if (s.is_boolean()) return s.get<bool>() ? "" : at + ": false schema";
  if (s.contains("$ref"))
    return validate(root, root.at(ojson::json_pointer(s["$ref"].get<std::string>().substr(1))), v,
                    at);
  for (const char* k : {"anyOf", "oneOf"}) {
    if (!s.contains(k)) continue;
    for (const auto& alt : s[k])
      if (validate(root, alt, v, at).empty()) return "";
    return at + ": no alternative of " + k + " matches";
  }
  if (s.contains("allOf")) return validate(root, s["allOf"][0], v, at);
  if (s.contains("const") && s["const"] != v) return at + ": not const";
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
    return at + ": not in enum";
  std::vector<std::string> types;
  if (s.contains("type")) {
    if (s["type"].is_string()) {
      types.push_back(s["type"]);
    } else {
      for (const auto& t : s["type"]) types.push_back(t);
    }
  } else if (s.contains("properties") || s.contains("additionalProperties")) {
    types.push_back("object");
  }
  if (types.empty()) return "";
  std::string first;
  for (const auto& t : types) {
    auto e = validate_type(root, t, s, v, at);
    if (e.empty()) return "";
    if (first.empty()) first = e;
  }
  return first;
}

// --- random walks -----------------------------------------------------------

struct Walk {
  std::string text;
  bool complete = false;
};

// Picks random allowed tokens until EOG or `steps`; in the second half it
// prefers tokens that close something, so that most walks end. Checks at
// every step that something is allowed and that EOG is allowed exactly when
// the document is complete.
Walk random_walk(TokenConstraint& c, const Vocab& v, uint32_t seed, int steps) {
  std::mt19937 rng(seed);
  Walk w;
  std::vector<bool> allowed;
  for (int i = 0; i < steps; ++i) {
    c.allowed(allowed);
    std::vector<int32_t> ok, closing;
    bool eog_ok = false;
    for (int32_t id = 0; id < v.index->n_vocab; ++id) {
      if (!allowed[id]) continue;
      if (v.tok->is_eog(id)) {
        eog_ok = true;
        continue;
      }
      ok.push_back(id);
      if (v.closing[id]) closing.push_back(id);
    }
    EXPECT_EQ(eog_ok, c.complete()) << "at '" << w.text << "'";
    if (ok.empty()) {
      EXPECT_TRUE(eog_ok) << "dead end at '" << w.text << "'";
      break;
    }
    if (eog_ok && (rng() % 4 == 0 || i > steps / 2)) {
      c.accept(v.tok->eos() >= 0 && v.tok->is_eog(v.tok->eos()) ? v.tok->eos() : v.index->eog[0]);
      break;
    }
    const auto& pool = (i > steps / 3 && !closing.empty() && rng() % 10 < 8) ? closing : ok;
    const int32_t id = pool[rng() % pool.size()];
    c.accept(id);
    w.text += v.pieces[id];
  }
  w.complete = c.complete();
  return w;
}

void check_walks(const ojson& schema, const std::string& vocab_name, int walks, int steps = 120,
                 int min_complete_pct = 60) {
  const Vocab& v = vocab(vocab_name);
  int completed = 0;
  for (int seed = 0; seed < walks; ++seed) {
    auto c = TokenConstraint::json_ordered(schema, v.index);
    const Walk w = random_walk(*c, v, static_cast<uint32_t>(seed), steps);
    if (!w.complete) continue;
    ++completed;
    ojson doc;
    try {
      doc = ojson::parse(w.text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << ": '" << w.text << "' does not parse: " << e.what();
      continue;
    }
    const ojson& s =
        schema.is_null() ? ojson{{"type", "object"}, {"additionalProperties", true}} : schema;
    EXPECT_EQ(validate(s, s, doc, ""), "") << "seed " << seed << ": " << w.text;
  }
  EXPECT_GE(completed * 100, walks * min_complete_pct) << schema.dump();
}

const ojson& kPerson = test::person_schema();

TEST(Walks, PersonSpm) { check_walks(kPerson, "llama-spm", 30); }
TEST(Walks, PersonGpt2) { check_walks(kPerson, "gpt-2", 30); }

TEST(Walks, AnyJsonObject) {
  check_walks(nullptr, "llama-spm", 20, 150, 40);
  check_walks(nullptr, "gpt-2", 20, 150, 40);
}

TEST(Walks, IntegerBoundsAndNumbers) {
  for (const char* s : {R"({"type":"integer","minimum":-5,"maximum":5})",
                        R"({"type":"integer","minimum":0,"maximum":150})",
                        R"({"type":"integer","minimum":1000,"maximum":1005})",
                        R"({"type":"integer","exclusiveMinimum":-3,"exclusiveMaximum":40})",
                        R"({"type":"number","minimum":0.5,"maximum":2.5})",
                        R"({"type":"number","minimum":-1.5,"maximum":0})",
                        R"({"type":"array","items":{"type":"number"},"minItems":1})"})
    for (const char* name : {"llama-spm", "gpt-2"}) check_walks(ojson::parse(s), name, 15, 60);
}

TEST(Walks, NestedAnyOfRefAndExtras) {
  const char* schemas[] = {
      R"({"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"object",
          "properties":{"c":{"type":"null"}},"required":["c"]}},"required":["b"]},
          "d":{"type":"integer"}},"required":["a"]})",
      R"({"anyOf":[{"type":"string","maxLength":5},{"type":"integer"},
          {"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}]})",
      R"({"$defs":{"pt":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},
          "required":["x","y"]}},"type":"object","properties":{"from":{"$ref":"#/$defs/pt"},
          "to":{"$ref":"#/$defs/pt"}},"required":["from","to"]})",
      R"({"definitions":{"node":{"type":"object","properties":{"v":{"type":"integer"},
          "kids":{"type":"array","items":{"$ref":"#/definitions/node"},"maxItems":2}},
          "required":["v"]}},"$ref":"#/definitions/node"})",
      R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
          "additionalProperties":{"type":"boolean"}})",
      R"({"type":["string","null"],"minLength":2,"maxLength":4})",
      R"({"enum":[1,12,"a",null,{"k":[1,2]},true]})",
      R"({"type":"object","properties":{"s":{"type":"string","minLength":3,"maxLength":3},
          "k":{"const":"fixed"}},"required":["s","k"]})",
  };
  for (const char* s : schemas)
    for (const char* name : {"llama-spm", "gpt-2"}) check_walks(ojson::parse(s), name, 15, 120, 50);
}

// The trie walk agrees with accepting each token on its own.
TEST(Mask, AgreesWithAcceptingEachToken) {
  for (const char* name : {"llama-spm", "gpt-2"}) {
    const Vocab& v = vocab(name);
    auto c = TokenConstraint::json_ordered(kPerson, v.index);
    std::mt19937 rng(7);
    std::vector<bool> allowed;
    for (int step = 0; step < 40 && !c->complete(); ++step) {
      c->allowed(allowed);
      if (step % 8 == 0) {
        for (int32_t id = 0; id < v.index->n_vocab; ++id) {
          auto probe = c->clone();
          bool ok = true;
          try {
            probe->accept(id);
          } catch (const std::logic_error&) {
            ok = false;
          }
          if (v.tok->piece(id).empty() && !v.tok->is_eog(id)) ok = false;
          ASSERT_EQ(ok, static_cast<bool>(allowed[id]))
              << name << " step " << step << " token " << id;
        }
      }
      std::vector<int32_t> ids;
      for (int32_t id = 0; id < v.index->n_vocab; ++id)
        if (allowed[id]) ids.push_back(id);
      c->accept(ids[rng() % ids.size()]);
    }
  }
}

// Inside strings, where plain pieces are judged by their length alone: the
// mask still agrees with accepting each token, at every distance from a
// maxLength (none, several, one, zero code points left) and mid-UTF-8.
TEST(Mask, AgreesWithAcceptingEachTokenInsideStrings) {
  const char* const prefixes[] = {
      R"({"name":")",
      R"({"name":"Abcdefghijk)",
      R"({"name":"Abcdefghijkl)",
      R"({"name":"Ab\n)",
      "{\"name\":\"Ab\xc3",
      R"({"name":"A","age":1,"role":"user","active":true,"nickname":"x y)",
      R"({"name":"A","age":1,"role":"user","active":true,"tags":["abcde)",
  };
  for (const char* name : {"llama-spm", "gpt-2"}) {
    const Vocab& v = vocab(name);
    for (const char* prefix : prefixes) {
      auto c = TokenConstraint::json_ordered(kPerson, v.index);
      for (const int32_t id : v.tok->encode(prefix, false, false)) c->accept(id);
      std::vector<bool> allowed;
      c->allowed(allowed);
      int n_allowed = 0;
      for (int32_t id = 0; id < v.index->n_vocab; ++id) {
        auto probe = c->clone();
        bool ok = !v.tok->piece(id).empty() || v.tok->is_eog(id);
        try {
          probe->accept(id);
        } catch (const std::logic_error&) {
          ok = false;
        }
        n_allowed += ok;
        ASSERT_EQ(ok, static_cast<bool>(allowed[id]))
            << name << " after '" << prefix << "': token " << id << " '" << v.pieces[id] << "'";
      }
      EXPECT_GT(n_allowed, 0) << name << " after '" << prefix << "'";
    }
  }
}

TEST(Mask, SetsMinusInfinityAndLeavesTheRest) {
  const Vocab& v = vocab("llama-spm");
  auto c = TokenConstraint::json(nlohmann::json::parse(R"({"type":"boolean"})"), *v.tok);
  std::vector<float> logits(v.index->n_vocab, 1.0f);
  c->mask(logits);
  for (int32_t id = 0; id < v.index->n_vocab; ++id) {
    const std::string p = v.tok->piece(id);
    // Allowed: a gap (nothing or one space), then a prefix of "true"/"false".
    const size_t n_ws = std::min(p.find_first_not_of(" \n\t\r"), p.size());
    const std::string ws = p.substr(0, n_ws), t = p.substr(n_ws);
    const bool gap = ws.empty() || ws == " ";
    const bool expect =
        !p.empty() && !v.tok->is_eog(id) && gap &&
        (t.empty() || std::string("true").starts_with(t) || std::string("false").starts_with(t));
    ASSERT_EQ(std::isinf(logits[id]), !expect) << "token " << id << " '" << p << "'";
  }
  std::vector<float> wrong(3);
  EXPECT_THROW(c->mask(wrong), std::invalid_argument);
}

TEST(Accept, DisallowedTokensThrow) {
  const Vocab& v = vocab("gpt-2");
  auto c = TokenConstraint::json(nlohmann::json::parse(R"({"type":"integer"})"), v.index);
  EXPECT_THROW(c->accept(v.tok->find("hello")), std::logic_error);
  EXPECT_THROW(c->accept(v.index->eog[0]), std::logic_error);  // nothing written yet
  EXPECT_THROW(c->accept(-1), std::logic_error);
  c->accept(v.tok->find("42"));
  EXPECT_TRUE(c->complete());
  EXPECT_THROW(c->accept(v.tok->find("a")), std::logic_error);
  c->accept(v.tok->find("7"));
  c->accept(v.index->eog[0]);
  EXPECT_TRUE(c->complete());
  EXPECT_THROW(c->accept(v.tok->find("7")), std::logic_error);
}

TEST(Accept, CloneIsIndependent) {
  const Vocab& v = vocab("gpt-2");
  auto c = TokenConstraint::json(
      nlohmann::json::parse(R"({"type":"array","items":{"type":"integer"}})"), v.index);
  c->accept(v.tok->find("["));
  auto d = c->clone();
  d->accept(v.tok->find("]"));
  EXPECT_TRUE(d->complete());
  EXPECT_FALSE(c->complete());
  c->accept(v.tok->find("1"));
  EXPECT_THROW(d->accept(v.tok->find("1")), std::logic_error);
}

// --- the matcher on whole texts ------------------------------------------------

struct Compiled {
  detail::Grammar g;
  explicit Compiled(const char* schema) : g(detail::compile_schema(ojson::parse(schema))) {}
  bool accepts(std::string_view text) const { return detail::Machine(g).matches(g.root, text); }
  bool prefix(std::string_view text) const {  // text can still be completed
    detail::Machine m(g);
    detail::State a = m.initial(g.root), b;
    for (const char c : text) {
      if (!m.advance(a, static_cast<uint8_t>(c), b)) return false;
      std::swap(a, b);
    }
    return true;
  }
};

TEST(Matcher, IntegerRanges) {
  const struct {
    const char* schema;
    int64_t lo, hi;
  } cases[] = {{R"({"type":"integer","minimum":-5,"maximum":5})", -5, 5},
               {R"({"type":"integer","minimum":0,"maximum":150})", 0, 150},
               {R"({"type":"integer","minimum":1000,"maximum":1005})", 1000, 1005},
               {R"({"type":"integer","exclusiveMinimum":-3,"exclusiveMaximum":40})", -2, 39},
               {R"({"type":"integer","minimum":-120,"maximum":-100})", -120, -100}};
  for (const auto& c : cases) {
    const Compiled g(c.schema);
    for (int64_t x = -1500; x <= 1500; ++x)
      ASSERT_EQ(g.accepts(std::to_string(x)), x >= c.lo && x <= c.hi) << c.schema << " " << x;
    // Every prefix the matcher lets through leads to a value in range.
    for (int64_t x = -1500; x <= 1500; ++x) {
      const std::string s = std::to_string(x);
      if (!g.prefix(s)) continue;
      bool reachable = false;
      for (int64_t y = c.lo; y <= c.hi && !reachable; ++y)
        reachable = std::to_string(y).starts_with(s);
      ASSERT_TRUE(reachable) << c.schema << " lets '" << s << "' through";
    }
    for (const char* bad : {"05", "-0", "+1", "1.0", "1e2", " 1x"})
      EXPECT_FALSE(g.accepts(bad)) << bad;
  }
  const Compiled any_int(R"({"type":"integer"})");
  EXPECT_TRUE(any_int.accepts("9223372036854775807"));
  EXPECT_TRUE(any_int.accepts("-9223372036854775808"));
  EXPECT_FALSE(any_int.accepts("9223372036854775808"));
  EXPECT_FALSE(any_int.accepts("-9223372036854775809"));
  EXPECT_FALSE(any_int.accepts("78680075633842668125"));  // * 10 would wrap around in 64 bits
  EXPECT_FALSE(any_int.prefix("92233720368547758070"));
}

TEST(Matcher, Numbers) {
  const Compiled any(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "1.5", "-12.25e+10", "3E-2", "0.0"})
    EXPECT_TRUE(any.accepts(ok)) << ok;
  for (const char* bad : {"01", ".5", "1.", "1e", "--1", "1e123", "+1", "NaN"})
    EXPECT_FALSE(any.accepts(bad)) << bad;
  const Compiled b(R"({"type":"number","minimum":0.5,"maximum":2.5})");
  for (const char* ok : {"1", "2", "1.99", "1.0"}) EXPECT_TRUE(b.accepts(ok)) << ok;
  for (const char* bad : {"0", "3", "2.5", "0.7", "1e0", "-1"}) EXPECT_FALSE(b.accepts(bad)) << bad;
  const Compiled neg(R"({"type":"number","minimum":-1.5,"maximum":0})");
  for (const char* ok : {"-1", "0", "-0.5"}) EXPECT_TRUE(neg.accepts(ok)) << ok;
  for (const char* bad : {"-1.5", "-2", "0.5", "-0"}) EXPECT_FALSE(neg.accepts(bad)) << bad;
}

TEST(Matcher, Strings) {
  const Compiled s(R"({"type":"string","minLength":2,"maxLength":3})");
  for (const char* ok :
       {R"("ab")", R"("abc")", "\"\xC3\xA9t\xC3\xA9\"", R"("\n\u00e9")", "\"\xF0\x9F\x98\x80x\""})
    EXPECT_TRUE(s.accepts(ok)) << ok;
  for (const char* bad : {R"("a")", R"("abcd")", "\"a\tb\"", R"("\ud800x")", R"("\x")",
                          "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF5\x80\x80\x80\"", "\"ab"})
    EXPECT_FALSE(s.accepts(bad)) << bad;
}

TEST(Matcher, ObjectsFollowSchemaOrder) {
  const Compiled o(R"({"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"integer"},
                      "c":{"type":"integer"}},"required":["a"]})");
  EXPECT_TRUE(o.accepts(R"({"a":1})"));
  EXPECT_TRUE(o.accepts(R"({"b":1,"a":2,"c":3})"));
  EXPECT_TRUE(o.accepts("{ \"a\" : 1 , \"c\":2 }"));
  EXPECT_FALSE(o.accepts(R"({"a":1,"b":2})"));  // out of order
  EXPECT_FALSE(o.accepts(R"({"c":1})"));        // required a skipped
  EXPECT_FALSE(o.accepts(R"({"a":1,"a":1})"));
  EXPECT_FALSE(o.accepts(R"({"a":1,"d":1})"));  // no additional properties
  EXPECT_FALSE(o.accepts(R"({"a":1,})"));
  EXPECT_FALSE(o.accepts(R"({"a":1})" + std::string(21, ' ')));  // whitespace is bounded
  // Gaps hold at most one space: no newlines, no indentation to spend tokens on.
  EXPECT_TRUE(o.accepts("{ \"a\": 1, \"c\": 2 }"));
  EXPECT_FALSE(o.accepts("{\n  \"a\": 1}"));
  EXPECT_FALSE(o.accepts("{  \"a\":1}"));
  EXPECT_FALSE(o.accepts("{\t\"a\":1}"));
  const Compiled x(R"({"type":"object","properties":{"ab":{"type":"integer"}},
                      "additionalProperties":{"type":"null"}})");
  EXPECT_TRUE(x.accepts(R"({"ab":1,"a":null,"abc":null})"));
  EXPECT_FALSE(x.accepts(R"({"ab":null})"));
  EXPECT_FALSE(x.accepts(R"({"a":null,"ab":1})"));  // declared after additional
  EXPECT_FALSE(x.accepts(R"({"a\u0062":null})"));   // escapes in additional keys
}

TEST(Matcher, EnumsAndUnions) {
  const Compiled e(R"({"enum":[1,12,"a",null,{"k":[1,2]}]})");
  for (const char* ok : {"1", "12", R"("a")", "null", R"({"k":[1,2]})"})
    EXPECT_TRUE(e.accepts(ok)) << ok;
  for (const char* bad : {"2", "123", R"("b")", "true"}) EXPECT_FALSE(e.accepts(bad)) << bad;
  const Compiled f(R"({"type":"string","enum":["a",1,"abc"],"maxLength":2})");  // filtered
  EXPECT_TRUE(f.accepts(R"("a")"));
  EXPECT_FALSE(f.accepts(R"("abc")"));
  EXPECT_FALSE(f.accepts("1"));
  const Compiled u(R"({"anyOf":[{"type":"integer","maximum":3},{"type":"number","minimum":10}]})");
  for (const char* ok : {"3", "-7", "10", "12.5"}) EXPECT_TRUE(u.accepts(ok)) << ok;
  for (const char* bad : {"4", "9.5"}) EXPECT_FALSE(u.accepts(bad)) << bad;
}

// Forced tool calls put "type": "object" beside a tool's combinator: the
// alternatives keep their objects only.
TEST(Matcher, TypeBesideACombinatorNarrowsItsAlternatives) {
  const Compiled a(R"({"type":"object","anyOf":[
      {"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
      {"type":"object","properties":{"b":{"type":"integer"}},"required":["b"]},
      {"type":"string"}, {"enum":[1,{"c":2}]}, true]})");
  for (const char* ok : {R"({"a":1})", R"({"b":-2})", R"({"c":2})", R"({"x":[null]})", "{}"})
    EXPECT_TRUE(a.accepts(ok)) << ok;
  for (const char* bad : {R"("s")", "1", "null", "[]", "true"}) EXPECT_FALSE(a.accepts(bad)) << bad;
  // Through $ref, allOf and nested unions.
  const Compiled r(R"({"type":["integer","null"],"$defs":{"n":{"allOf":[{"anyOf":[
      {"type":"number","minimum":1,"maximum":3},{"type":"string"}]}]}},
      "$ref":"#/$defs/n"})");
  for (const char* ok : {"1", "3"}) EXPECT_TRUE(r.accepts(ok)) << ok;
  for (const char* bad : {"1.5", "4", R"("ab")", "{}", "null"}) EXPECT_FALSE(r.accepts(bad)) << bad;
  // The same target under another type is compiled again, not shared.
  const Compiled t(R"({"$defs":{"v":{"anyOf":[{"type":"string"},{"type":"integer"}]}},
      "type":"object","properties":{"s":{"type":"string","$ref":"#/$defs/v"},
      "i":{"type":"integer","$ref":"#/$defs/v"}},"required":["s","i"]})");
  EXPECT_TRUE(t.accepts(R"({"s":"x","i":1})"));
  EXPECT_FALSE(t.accepts(R"({"s":1,"i":1})"));
  EXPECT_FALSE(t.accepts(R"({"s":"x","i":"y"})"));
}

TEST(Schema, TypeBesideACombinatorWithNoValueOfItIsRefused) {
  auto err = [](const char* s) {
    try {
      (void)detail::compile_schema(ojson::parse(s));
    } catch (const SchemaError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(
      err(R"({"properties":{"p":{"type":"object","anyOf":[{"type":"string"},{"enum":[1]}]}}})"),
      "schema at '/properties/p': no alternative of the schema has a value of the type that "
      "'type' names");
  EXPECT_NE(err(R"({"type":"object","anyOf":[{"type":"object"}],"properties":{}})")
                .find("'anyOf' together with 'properties' is not supported"),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"objet","anyOf":[{"type":"object"}]})").find("unknown type 'objet'"),
            std::string::npos);
}

TEST(Matcher, RecursionIsBoundedByDepth) {
  const Compiled t(
      R"({"$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}},"$ref":"#/$defs/n"})");
  std::string deep(detail::kMaxStack, '[');
  EXPECT_FALSE(t.prefix(deep));
  std::string ok(detail::kMaxStack - 2, '[');
  EXPECT_TRUE(t.accepts(ok + std::string(ok.size(), ']')));
  const Compiled any("true");
  EXPECT_FALSE(any.prefix(std::string(10000, '[')));
}

// --- hostile and unsupported schemas --------------------------------------------

std::string schema_error(const nlohmann::json& s) {
  try {
    (void)detail::compile_schema(s);
  } catch (const SchemaError& e) {
    return e.what();
  }
  return "";
}

TEST(Schema, DeepNestingIsRefused) {
  nlohmann::json s = {{"type", "string"}};
  for (int i = 0; i < 10000; ++i) s = {{"type", "array"}, {"items", std::move(s)}};
  EXPECT_NE(schema_error(s).find("nested deeper than 64"), std::string::npos);
  nlohmann::json a = nlohmann::json::array();
  for (int i = 0; i < 10000; ++i)
    a = nlohmann::json{{"anyOf", nlohmann::json::array({std::move(a)})}};
  EXPECT_FALSE(schema_error(a).empty());
}

TEST(Schema, ClearErrors) {
  auto err = [](const char* s) { return schema_error(nlohmann::json::parse(s)); };
  EXPECT_EQ(err(R"({"type":"object","properties":{"a":{"type":"strin"}}})"),
            "schema at '/properties/a': unknown type 'strin' (object, array, string, number, "
            "integer, boolean or null)");
  EXPECT_EQ(err(R"({"properties":{"a":{"type":"string","pattern":"^x"}}})")
                .find("schema at '/properties/a': keyword 'pattern' is not supported"),
            0u);
  EXPECT_NE(err(R"({"type":"string","minLength":3,"maxLength":2})").find("minLength"),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"integer","minimum":3,"maximum":2})").find("no integer"),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"object","required":["x"]})").find("\"x\""), std::string::npos);
  EXPECT_NE(err(R"({"$ref":"#/$defs/missing"})").find("does not resolve"), std::string::npos);
  EXPECT_NE(err(R"({"$ref":"http://x/y.json"})").find("within the schema"), std::string::npos);
  EXPECT_NE(err(R"({"type":"object","properties":{"me":{"$ref":"#"}},"required":["me"]})")
                .find("recurse"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})"),
      "");
  EXPECT_NE(err(R"({"enum":[]})"), "");
  EXPECT_NE(err(R"({"type":"string","enum":[1,2]})").find("enum"), std::string::npos);
  EXPECT_NE(err(R"({"type":7})"), "");
  EXPECT_NE(err(R"({"allOf":[{"type":"string"},{"maxLength":3}]})"), "");
  EXPECT_NE(err(R"({"type":"array","uniqueItems":true})"), "");
  EXPECT_NE(err(R"(false)"), "");
  EXPECT_NE(err(R"("yaml")"), "");
  EXPECT_NE(err(R"([1])"), "");
  EXPECT_EQ(err(R"({"type":"array","uniqueItems":false,"title":"t","format":"x","foo":1})"), "");
}

TEST(Schema, HugeEnum) {
  nlohmann::json values = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) {
    std::string value = std::to_string(i * 7919 % 1000003);
    value.insert(value.begin(), 'v');  // (not "v" + ...: g++ 12 warns -Wrestrict falsely)
    values.push_back(std::move(value));
  }
  const Vocab& v = vocab("llama-spm");
  auto c = TokenConstraint::json(nlohmann::json{{"enum", values}}, v.index);
  const Walk w = random_walk(*c, v, 1, 40);
  ASSERT_TRUE(w.complete) << w.text;
  EXPECT_NE(std::find(values.begin(), values.end(), nlohmann::json::parse(w.text)), values.end());
}

TEST(Schema, AMillionValueEnumIsRefusedQuickly) {
  nlohmann::json values = nlohmann::json::array();
  for (int i = 0; i < 1000000; ++i) values.push_back(i);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(schema_error(nlohmann::json{{"enum", values}}).find("at most 100000"),
            std::string::npos);
  // Refused before any of the values is compiled (generous bound for sanitizer builds).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// A reference is compiled once per set of types a "type" beside it leaves: 32
// such sets over one object of 40000 properties would be 32 copies of it.
TEST(Schema, ManyNarrowedCopiesOfALargeReferenceAreRefused) {
  nlohmann::json props = nlohmann::json::object();
  for (int i = 0; i < 40000; ++i) props["p" + std::to_string(i)] = {{"type", "string"}};
  nlohmann::json alts = nlohmann::json::array();
  const char* others[] = {"array", "string", "integer", "boolean", "null"};
  for (int set = 0; set < 32; ++set) {
    nlohmann::json types = {"object"};
    for (int b = 0; b < 5; ++b)
      if (set & (1 << b)) types.push_back(others[b]);
    alts.push_back({{"type", types}, {"$ref", "#/$defs/big"}});
  }
  const nlohmann::json s = {{"$defs", {{"big", {{"type", "object"}, {"properties", props}}}}},
                            {"anyOf", alts}};
  EXPECT_NE(schema_error(s).find("the schema is too large"), std::string::npos);
}

TEST(Schema, FormatJsonMeansAnyObject) {
  const detail::Grammar a = detail::compile_schema(nlohmann::json("json"));
  const detail::Grammar b = detail::compile_schema(nlohmann::json());
  for (const auto* g : {&a, &b}) {
    detail::Machine m(*g);
    EXPECT_TRUE(m.matches(g->root, R"({"a":[1,{"b":null}],"c":"\u00e9"})"));
    EXPECT_FALSE(m.matches(g->root, "[1]"));
    EXPECT_FALSE(m.matches(g->root, "1"));
  }
}

}  // namespace
}  // namespace hearth::grammar
