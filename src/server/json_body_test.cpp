#include "server/json_body.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace hearth::server {
namespace {

using ::testing::HasSubstr;

// The message of the BadJson that parse_json_body throws for `text` ("" when it accepts it).
std::string refusal(std::string_view text) {
  try {
    parse_json_body(text);
  } catch (const BadJson& e) {
    EXPECT_EQ(e.status, 400);
    return e.what();
  }
  return "";
}

std::string nested(int depth) {
  return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

TEST(JsonBody, AcceptsAnObjectKeepingKeyOrder) {
  const auto j =
      parse_json_body(R"({"z":1,"a":[1.5,"x",null,true],"m":{"k":"\u00e9\ud83d\ude00"}})");
  EXPECT_EQ(j.begin().key(), "z");
  EXPECT_EQ(j["m"]["k"], "\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(JsonBody, EmptyIsMissing) {
  EXPECT_EQ(refusal(""), "missing request body");
  EXPECT_EQ(refusal(" \r\n\t"), "missing request body");
}

TEST(JsonBody, NonObjectsAndMalformedBodies) {
  EXPECT_THAT(refusal("[1]"), HasSubstr("got array"));
  EXPECT_THAT(refusal("\"x\""), HasSubstr("got string"));
  EXPECT_THAT(refusal("null"), HasSubstr("got null"));
  EXPECT_THAT(refusal("{\"model\":"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal("{} {}"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal("{\"a\":1,}"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal("{\"a\":'x'}"), HasSubstr("not valid JSON"));
  EXPECT_EQ(refusal("{\"a\":\"x\n\"}").find("[json.exception"), std::string::npos);
}

TEST(JsonBody, DepthIsBoundedBeforeParsing) {
  EXPECT_EQ(refusal(nested(kMaxJsonDepth)), "");
  EXPECT_THAT(refusal(nested(kMaxJsonDepth + 1)), HasSubstr("nested deeper than 64"));
  // A million brackets, unbalanced: refused by the scan at once.
  EXPECT_THAT(refusal(std::string(1'000'000, '[')), HasSubstr("nested deeper"));
  // Brackets inside strings (and escaped quotes before them) are text.
  EXPECT_EQ(refusal("{\"a\":\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}"),
            "");
}

TEST(JsonBody, DuplicateKeysAreRefusedAtEveryLevel) {
  EXPECT_THAT(refusal(R"({"model":"a","model":"b"})"), HasSubstr("duplicate key \"model\""));
  EXPECT_THAT(refusal(R"({"o":{"t":1,"t":2}})"), HasSubstr("duplicate key \"t\""));
  EXPECT_THAT(refusal(R"({"m":[{"r":1},{"r":2,"r":3}]})"), HasSubstr("duplicate key \"r\""));
  // The same key in sibling objects is fine.
  EXPECT_EQ(refusal(R"({"m":[{"r":1},{"r":2}],"r":{"r":0}})"), "");
}

TEST(JsonBody, InvalidUtf8AndLoneSurrogates) {
  EXPECT_THAT(refusal("{\"a\":\"\xff\"}"), HasSubstr("not valid UTF-8"));
  EXPECT_THAT(refusal("{\"a\":\"\xC0\xAF\"}"), HasSubstr("not valid UTF-8"));      // overlong '/'
  EXPECT_THAT(refusal("{\"a\":\"\xED\xA0\x80\"}"), HasSubstr("not valid UTF-8"));  // raw U+D800
  EXPECT_THAT(refusal("{\"a\":\"\xF4\x90\x80\x80\"}"), HasSubstr("not valid UTF-8"));  // > U+10FFFF
  EXPECT_THAT(refusal("{\"a\":\"\xE2\x82\"}"), HasSubstr("not valid UTF-8"));          // truncated
  EXPECT_THAT(refusal(R"({"a":"\ud800"})"), HasSubstr("surrogate"));
  EXPECT_THAT(refusal(R"({"a":"\udc00x"})"), HasSubstr("surrogate"));
  EXPECT_THAT(refusal(R"({"a":"\ud800\u0041"})"), HasSubstr("surrogate"));
}

TEST(JsonBody, NulCharacters) {
  EXPECT_THAT(refusal(R"({"a":"x\u0000y"})"), HasSubstr("NUL"));
  EXPECT_THAT(refusal(R"({"\u0000":1})"), HasSubstr("NUL"));
  EXPECT_THAT(refusal(std::string("{\"a\":\"x\0y\"}", 11)), HasSubstr("not valid JSON"));
}

TEST(JsonBody, NonFiniteNumbers) {
  EXPECT_THAT(refusal(R"({"t":NaN})"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal(R"({"t":Infinity})"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal(R"({"t":-Infinity})"), HasSubstr("not valid JSON"));
  EXPECT_THAT(refusal(R"({"t":1e400})"), HasSubstr("out of range"));
  EXPECT_THAT(refusal(R"({"t":[-1e999]})"), HasSubstr("out of range"));
  // Integers beyond 64 bits become doubles: in range, so accepted here (the
  // field's own check refuses them where an integer is wanted).
  EXPECT_EQ(refusal(R"({"t":123456789012345678901234567890})"), "");
}

}  // namespace
}  // namespace hearth::server
