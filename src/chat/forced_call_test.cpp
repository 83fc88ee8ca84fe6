// Every forced-call schema compiles with grammar::TokenConstraint::json_ordered
// (the constraint the engine applies), and text sampled under it parses back
// into calls of the allowed tools. The chat library does not depend on the
// grammar; only this test links it.
#include <gtest/gtest.h>

#include <random>

#include "chat/tool_calls.h"
#include "gguf/reader.h"
#include "grammar/json_constraint.h"

namespace hearth::chat {
namespace {

using ojson = nlohmann::ordered_json;

struct Vocab {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<const grammar::VocabIndex> index;
  std::vector<std::string> pieces;  // [n_vocab]
};

const Vocab& gpt2() {
  static const Vocab v = [] {
    Vocab v;
    v.file = gguf::GgufFile::open(std::string(HEARTH_SOURCE_DIR) +
                                  "/tests/data/vocab/ggml-vocab-gpt-2.gguf");
    v.tok = tokenizer::Tokenizer::from_gguf(*v.file);
    v.index = grammar::VocabIndex::build(*v.tok);
    for (int32_t id = 0; id < v.tok->n_vocab(); ++id) v.pieces.push_back(v.tok->piece(id));
    return v;
  }();
  return v;
}

// Samples uniformly among the allowed tokens (preferring ones that close
// strings and containers later on, so walks end), up to `steps` tokens.
std::string walk(grammar::TokenConstraint& c, uint32_t seed, int steps) {
  const Vocab& v = gpt2();
  std::mt19937 rng(seed);
  std::vector<bool> allowed;
  std::string text;
  for (int i = 0; i < steps && !c.complete(); ++i) {
    c.allowed(allowed);
    std::vector<int32_t> ok, closing;
    for (int32_t id = 0; id < static_cast<int32_t>(allowed.size()); ++id) {
      if (!allowed[id] || v.pieces[id].empty()) continue;
      ok.push_back(id);
      if (v.pieces[id].find_first_of("\"}]") != std::string::npos) closing.push_back(id);
    }
    if (ok.empty()) break;
    const auto& pool = (i > steps / 3 && !closing.empty() && rng() % 10 < 8) ? closing : ok;
    const int32_t id = pool[rng() % pool.size()];
    c.accept(id);
    text += v.pieces[id];
  }
  return text;
}

const std::vector<Tool>& tools() {
  static const std::vector<Tool> t = {
      {"get_weather", "Weather for a city.",
       ojson::parse(R"({"type": "object", "properties": {"city": {"type": "string", "maxLength": 8},
                        "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                        "required": ["city", "days"]})")},
      {"get_time", "The time.", ojson::parse(R"({"type": "object", "properties": {}})")},
      {"ping", "No parameters at all.", nullptr},
      {"set_mode", "Properties without a type.",
       ojson::parse(R"({"properties": {"mode": {"enum": ["on", "off"]}}, "required": ["mode"]})")},
  };
  return t;
}

TEST(ForcedCall, EverySchemaCompiles) {
  for (ToolSyntax syntax : {ToolSyntax::kHermes, ToolSyntax::kLlama3, ToolSyntax::kMistral,
                            ToolSyntax::kGeneric, ToolSyntax::kFunctionTag})
    for (const char* only : {"", "get_weather", "get_time", "ping", "set_mode"})
      for (bool parallel : {false, true}) {
        const ForcedCall f = forced_call(syntax, tools(), only, parallel);
        EXPECT_NO_THROW(grammar::TokenConstraint::json_ordered(f.schema, gpt2().index))
            << to_string(syntax) << " " << f.schema.dump();
      }
}

TEST(ForcedCall, SchemasCompileAndWalksParseBack) {
  const Vocab& v = gpt2();
  // The schema differs by syntax only in the arguments key (kLlama3) and the
  // array (kMistral); the others share kHermes's.
  const struct {
    ToolSyntax syntax;
    const char* only;
    bool parallel;
  } configs[] = {{ToolSyntax::kHermes, "", false},
                 {ToolSyntax::kHermes, "set_mode", false},
                 {ToolSyntax::kLlama3, "", false},
                 {ToolSyntax::kMistral, "", true},
                 {ToolSyntax::kMistral, "get_weather", false}};
  for (const auto& [syntax, only_name, parallel] : configs) {
    const std::string only = only_name;
    SCOPED_TRACE(std::string(to_string(syntax)) + " only '" + only + "' parallel " +
                 std::to_string(parallel));
    const ForcedCall f = forced_call(syntax, tools(), only, parallel);
    std::unique_ptr<grammar::TokenConstraint> c;
    ASSERT_NO_THROW(c = grammar::TokenConstraint::json_ordered(f.schema, v.index))
        << f.schema.dump();
    int completed = 0;
    for (uint32_t seed = 0; seed < 3; ++seed) {
      auto walker = c->clone();
      const std::string text = walk(*walker, seed, 100);
      if (!walker->complete()) continue;
      ++completed;
      const std::vector<ToolCall> calls = parse_forced(text, syntax);
      ASSERT_FALSE(calls.empty()) << text;
      if (syntax != ToolSyntax::kMistral || !parallel) {
        EXPECT_EQ(calls.size(), 1u) << text;
      }
      for (const ToolCall& call : calls) {
        if (!only.empty()) {
          EXPECT_EQ(call.name, only) << text;
        }
        EXPECT_TRUE(call.arguments.is_object()) << text;
        if (call.name == "get_weather") {
          EXPECT_TRUE(call.arguments.contains("city") && call.arguments.at("city").is_string())
              << text;
          const int64_t days = call.arguments.value("days", int64_t{0});
          EXPECT_TRUE(days >= 1 && days <= 7) << text;
        } else if (call.name == "set_mode") {
          const std::string mode = call.arguments.value("mode", "");
          EXPECT_TRUE(mode == "on" || mode == "off") << text;
        } else if (call.name == "get_time") {
          EXPECT_TRUE(call.arguments.empty()) << text;
        } else {
          EXPECT_EQ(call.name, "ping") << text;
        }
      }
    }
    EXPECT_GE(completed, 2);
  }
}

// Walks `f`'s schema a few times; the arguments of the calls that complete.
std::vector<ojson> walked_arguments(const ForcedCall& f, ToolSyntax syntax) {
  std::unique_ptr<grammar::TokenConstraint> c;
  EXPECT_NO_THROW(c = grammar::TokenConstraint::json_ordered(f.schema, gpt2().index))
      << f.schema.dump();
  std::vector<ojson> out;
  for (uint32_t seed = 0; c && seed < 6; ++seed) {
    auto walker = c->clone();
    const std::string text = walk(*walker, seed, 100);
    if (!walker->complete()) continue;
    const std::vector<ToolCall> calls = parse_forced(text, syntax);
    EXPECT_EQ(calls.size(), 1u) << text;
    for (const ToolCall& call : calls) out.push_back(call.arguments);
  }
  return out;
}

// Parameters whose root is a combinator or a $ref, without "type" (as zod and
// Pydantic write unions): the arguments are an object of one alternative.
TEST(ForcedCall, ParametersThatAreACombinatorOrARefAreObjects) {
  const char* roots[] = {
      R"({"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                   {"type":"object","properties":{"b":{"type":"integer"}},"required":["b"]}]})",
      R"({"oneOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                   {"type":"integer"}, {"properties":{"b":{"type":"integer"}},"required":["b"]}]})",
      R"({"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]}]})",
      R"({"$ref":"#/$defs/A","$defs":{"A":{"anyOf":[{"type":"string"},
          {"type":"object","properties":{"a":{"$ref":"#/$defs/I"}},"required":["a"]}]},
          "I":{"type":"integer"}}})",
  };
  for (const char* root : roots) {
    SCOPED_TRACE(root);
    const std::vector<Tool> t = {{"pick", "", ojson::parse(root)}};
    for (ToolSyntax syntax : {ToolSyntax::kHermes, ToolSyntax::kLlama3, ToolSyntax::kMistral})
      EXPECT_NO_THROW(grammar::TokenConstraint::json_ordered(
          forced_call(syntax, t, "", false).schema, gpt2().index));
    const std::vector<ojson> args =
        walked_arguments(forced_call(ToolSyntax::kHermes, t, "pick", false), ToolSyntax::kHermes);
    EXPECT_GE(args.size(), 2u);
    for (const ojson& a : args) {
      ASSERT_TRUE(a.is_object()) << a.dump();
      EXPECT_TRUE((a.contains("a") && a["a"].is_number_integer()) ||
                  (a.contains("b") && a["b"].is_number_integer()))
          << a.dump();
    }
  }
}

// Where "enum", "const", "default" or "examples" name a property (or a
// definition), they hold a schema whose references must point into the call.
TEST(ForcedCall, RefsUnderPropertiesNamedLikeDataKeywordsAreRebased) {
  const std::vector<Tool> t = {{"f", "", ojson::parse(R"({"type":"object","properties":{
          "enum":{"$ref":"#/$defs/X"},"const":{"$ref":"#/$defs/enum"},
          "default":{"type":"array","items":{"$ref":"#/$defs/X"},"maxItems":1,
                     "default":[{"$ref":"#/not/a/schema"}]}},
          "required":["enum","const","default"],
          "$defs":{"X":{"type":"integer","minimum":0,"maximum":5},
                   "enum":{"enum":[{"$ref":"#/data"}]}}})")},
                               {"g", "", nullptr}};
  const ForcedCall f = forced_call(ToolSyntax::kHermes, t, "", false);
  const ojson& props = f.schema["anyOf"][0]["properties"]["arguments"]["properties"];
  EXPECT_EQ(props["enum"]["$ref"], "#/anyOf/0/properties/arguments/$defs/X");
  EXPECT_EQ(props["const"]["$ref"], "#/anyOf/0/properties/arguments/$defs/enum");
  EXPECT_EQ(props["default"]["items"]["$ref"], "#/anyOf/0/properties/arguments/$defs/X");
  // Data stays as written.
  EXPECT_EQ(props["default"]["default"][0]["$ref"], "#/not/a/schema");
  EXPECT_EQ(f.schema["anyOf"][0]["properties"]["arguments"]["$defs"]["enum"]["enum"][0]["$ref"],
            "#/data");
  const std::vector<ojson> args =
      walked_arguments(forced_call(ToolSyntax::kHermes, t, "f", false), ToolSyntax::kHermes);
  EXPECT_GE(args.size(), 1u);
  for (const ojson& a : args) {
    ASSERT_TRUE(a.contains("enum") && a["enum"].is_number_integer()) << a.dump();
    EXPECT_TRUE(a["enum"] >= 0 && a["enum"] <= 5) << a.dump();
    EXPECT_EQ(a["const"], ojson::parse(R"({"$ref":"#/data"})")) << a.dump();
  }
}

}  // namespace
}  // namespace hearth::chat
