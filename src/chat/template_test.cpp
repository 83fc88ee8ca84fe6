// Language features one by one. Expected texts in features.json were rendered
// by Python Jinja2 (see its "note"); the rest are checked by hand.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/ast.h"
#include "chat/chat_template.h"
#include "chat/lexer.h"

namespace hearth::chat {
namespace {

using detail::Tok;
using nlohmann::ordered_json;

// Renders at the time the Jinja2 expectations were made: 2026-01-15T00:00:00 (a Thursday).
std::string render(const std::string& source, const ordered_json& ctx = ordered_json::object()) {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;
  tm.tm_yday = 14;
  o.now = tm;
  return ChatTemplate(source).render(ctx, o);
}

TEST(Features, MatchJinja2) {
  std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/features.json");
  ASSERT_TRUE(f) << "missing tests/data/templates/features.json";
  const ordered_json data = ordered_json::parse(f);
  ASSERT_GT(data["cases"].size(), 100u);
  for (const auto& c : data["cases"]) {
    const std::string src = c["template"].get<std::string>();
    SCOPED_TRACE("template: " + src);
    if (c.contains("error")) {
      EXPECT_THROW(render(src, c["context"]), TemplateError) << "Jinja2: " << c["error"];
      continue;
    }
    try {
      EXPECT_EQ(render(src, c["context"]), c["expected"].get<std::string>());
    } catch (const TemplateError& e) {
      ADD_FAILURE() << "error: " << e.what();
    }
  }
}

TEST(Lexer, TokenizesTagsAndExpressions) {
  auto toks = detail::tokenize("a{{ x.y|f(1, 'q\\n') }}b{% if n >= 2.5 %}c{% endif %}");
  std::vector<Tok> types;
  for (const auto& t : toks) types.push_back(t.type);
  std::vector<Tok> want = {
      Tok::Data,   Tok::VarBegin,   Tok::Name,   Tok::Op,       Tok::Name,
      Tok::Op,     Tok::Name,       Tok::Op,     Tok::Int,      Tok::Op,
      Tok::String, Tok::Op,         Tok::VarEnd, Tok::Data,     Tok::BlockBegin,
      Tok::Name,   Tok::Name,       Tok::Op,     Tok::Float,    Tok::BlockEnd,
      Tok::Data,   Tok::BlockBegin, Tok::Name,   Tok::BlockEnd, Tok::Eof};
  EXPECT_EQ(types, want);
  EXPECT_EQ(toks[10].text, "q\n");
  EXPECT_EQ(toks[17].text, ">=");
}

TEST(Lexer, WhitespaceControl) {
  // trim_blocks drops the newline after %}; lstrip_blocks the indentation before {%.
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  EXPECT_EQ(render("a  {{- 'b' -}}  \n c"), "abc");
  EXPECT_EQ(render("x\n  {%+ if true %}y{% endif %}"), "x\n  y");
  EXPECT_EQ(render("{% if true +%}\nz{% endif %}"), "\nz");
  EXPECT_EQ(render("a {# note #} b"), "a  b");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("one\r\ntwo\n"), "one\ntwo");  // newlines normalized, last one dropped
}

TEST(Lexer, ReportsUnterminatedConstructs) {
  EXPECT_THROW(detail::tokenize("{{ x "), TemplateError);
  EXPECT_THROW(detail::tokenize("{# x "), TemplateError);
  EXPECT_THROW(detail::tokenize("{{ 'x }}"), TemplateError);
  EXPECT_THROW(detail::tokenize("{% raw %}x"), TemplateError);
  EXPECT_THROW(detail::tokenize("{{ (x] }}"), TemplateError);
}

TEST(Parser, SyntaxErrorsNameTheLine) {
  try {
    ChatTemplate t("ok\n{% if x %}\n{% for %}");
    FAIL() << "parsed";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate("{% if x %}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{% endif %}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{% break %}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{% generation %}{% endgeneration %}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{{ 1 + }}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{% include 'x' %}"), TemplateError);
}

TEST(Parser, Precedence) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}"), "7");
  EXPECT_EQ(render("{{ -2 | abs }}"), "2");  // the filter applies to -2
  EXPECT_EQ(render("{{ not 1 == 2 }}"), "True");
  EXPECT_EQ(render("{{ 'a' ~ 2 * 3 }}"), "a6");
  EXPECT_THROW(render("{{ 'a' ~ 1 + 2 }}"), TemplateError);  // ~ binds tighter than +
  EXPECT_EQ(render("{{ 1 if false else 2 if false else 3 }}"), "3");
}

TEST(Values, PythonStr) {
  EXPECT_EQ(render("{{ true }} {{ none }} {{ 1.0 }} {{ 1e100 }} {{ [1, 'a', none] }}"),
            "True None 1.0 1e+100 [1, 'a', None]");
  EXPECT_EQ(render("{{ {'k': (1,)} }}"), "{'k': (1,)}");
  EXPECT_EQ(render("{{ x }}", {{"x", "日本"}}), "日本");
  EXPECT_EQ(render("{{ x | length }} {{ x[1] }} {{ x[::-1] }}", {{"x", "日本語"}}), "3 本 語本日");
}

TEST(Api, ApplyUsesHfVariables) {
  ChatTemplate t(chatml_template());
  std::vector<Message> msgs = {{"system", "S"}, {"user", "Hi"}};
  EXPECT_EQ(t.apply(msgs, true, "<s>", "</s>"),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(t.apply(msgs, false, "<s>", "</s>"),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  ChatTemplate extra("{{ tools | length }}{{ bos_token }}");
  EXPECT_EQ(extra.apply({}, false, "B", "E", {{"tools", {1, 2}}}), "2B");
}

TEST(Api, BuiltinTemplatesRender) {
  std::vector<Message> msgs = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
  for (const std::string& name : builtin_template_names()) {
    SCOPED_TRACE(name);
    std::string out = ChatTemplate(builtin_template(name)).apply(msgs, true, "<s>", "</s>");
    EXPECT_NE(out.find("Be brief."), std::string::npos);
    EXPECT_NE(out.find("Bye"), std::string::npos);
    EXPECT_LT(out.find("Hi"), out.find("Hello"));
  }
  EXPECT_EQ(ChatTemplate(builtin_template("llama2")).apply({{"user", "Hi"}}, true, "<s>", "</s>"),
            "<s>[INST] Hi [/INST]");
  EXPECT_EQ(ChatTemplate(builtin_template("llama3")).apply({{"user", "Hi"}}, true, "<|b|>", ""),
            "<|b|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_THROW(builtin_template("nope"), TemplateError);
}

TEST(Api, ResolveTemplate) {
  EXPECT_EQ(resolve_template("", ""), chatml_template());
  EXPECT_EQ(resolve_template("", "MODEL"), "MODEL");
  EXPECT_EQ(resolve_template("llama3", "MODEL"), builtin_template("llama3"));
  std::string path = ::testing::TempDir() + "/hearth_resolve_test.jinja";
  std::ofstream(path) << "{{ 'from file' }}";
  EXPECT_EQ(resolve_template(path, "MODEL"), "{{ 'from file' }}");
  std::remove(path.c_str());
  EXPECT_THROW(resolve_template("/no/such/template.jinja", ""), TemplateError);
}

TEST(Api, StrftimeNowReadsTheGivenTime) {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;
  o.now = tm;
  EXPECT_EQ(ChatTemplate("{{ strftime_now('%d %b %Y %A') }}").render(nlohmann::json::object(), o),
            "15 Jan 2026 Thursday");
}

TEST(Api, RaiseExceptionCarriesTheMessage) {
  try {
    render("{{ raise_exception('roles must alternate') }}");
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("roles must alternate"), std::string::npos);
  }
}

TEST(Api, ContextMustBeAnObject) {
  EXPECT_THROW(ChatTemplate("x").render(nlohmann::json::array()), TemplateError);
}

}  // namespace
}  // namespace hearth::chat
