// `hearth template` as a user runs it: renders files to stdout exactly, takes
// the variables from --context and the time from --now, and fails with the
// template's message when it raises.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"

namespace {

using hearth::test::Result;
using hearth::test::run_hearth;
using hearth::test::shell_quote;

// Writes `text` to NAME in a folder shared by this program's tests and removed at exit.
std::string write_temp(const std::string& name, const std::string& text) {
  static const hearth::test::TempDir dir;
  std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

nlohmann::ordered_json golden() {
  std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/golden.json");
  return nlohmann::ordered_json::parse(f);
}

TEST(TemplateCommand, RendersWithContextAndNowExactly) {
  const auto g = golden();
  for (const char* name : {"meta-llama-Llama-3.1-8B-Instruct.jinja",
                           "Qwen-Qwen2.5-7B-Instruct.jinja", "google-gemma-4-31B-it.jinja"}) {
    SCOPED_TRACE(name);
    const auto& entry = g["templates"][name];
    std::string tmpl = write_temp("t.jinja", entry["template"].get<std::string>());
    for (const char* c : {"multi_turn/gen", "unicode/nogen"}) {
      SCOPED_TRACE(c);
      std::string ctx = write_temp("ctx.json", g["contexts"][c].dump());
      Result r = run_hearth("template " + shell_quote(tmpl) + " --context " + shell_quote(ctx) +
                            " --now " + g["now"].get<std::string>());
      EXPECT_EQ(r.code, 0);
      EXPECT_EQ(r.out, entry["expected"][c].get<std::string>());  // no added newline
    }
  }
}

TEST(TemplateCommand, NowAndNullContext) {
  std::string tmpl =
      write_temp("now.jinja", "{{ strftime_now('%d %B %Y') }}|{{ x }}|{{ x is none }}");
  std::string ctx = write_temp("now.json", R"({"x": null})");
  Result r = run_hearth("template " + shell_quote(tmpl) + " --context " + shell_quote(ctx) +
                        " --now 2026-01-15T00:00:00");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "15 January 2026|None|True");
}

TEST(TemplateCommand, DefaultContextIsOneUserTurn) {
  std::string tmpl =
      write_temp("default.jinja",
                 "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                 "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}");
  Result r = run_hearth("template " + shell_quote(tmpl));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "<s>[user:Hello]></s>");
}

TEST(TemplateCommand, RaiseExceptionExitsNonZeroWithTheMessage) {
  const auto g = golden();
  std::string tmpl = write_temp(
      "mistral.jinja", g["templates"]["mistralai-Mistral-7B-Instruct-v0.1.jinja"]["template"]);
  std::string ctx = write_temp("sys.json", g["contexts"]["system_user/gen"].dump());
  Result r = run_hearth("template " + shell_quote(tmpl) + " --context " + shell_quote(ctx));
  r.out += r.err;  // the message is read from stdout and stderr together
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("Conversation roles must alternate"), std::string::npos) << r.out;
}

TEST(TemplateCommand, SyntaxAndSandboxErrorsExitNonZero) {
  Result syntax = run_hearth("template " + shell_quote(write_temp("bad.jinja", "{% if x %}")));
  syntax.out += syntax.err;  // the message is read from stdout and stderr together
  EXPECT_NE(syntax.code, 0);
  EXPECT_NE(syntax.out.find("line 1"), std::string::npos) << syntax.out;
  Result loop =
      run_hearth("template " +
                 shell_quote(write_temp("loop.jinja", "{% for x in range(10**9) %}{% endfor %}")));
  loop.out += loop.err;
  EXPECT_NE(loop.code, 0);
  EXPECT_NE(loop.out.find("Range too big"), std::string::npos) << loop.out;
}

TEST(TemplateCommand, BuiltinTemplateByName) {
  Result r = run_hearth("template chatml");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
}

TEST(TemplateCommand, BadArgumentsExitNonZero) {
  std::string tmpl = write_temp("ok.jinja", "ok");
  EXPECT_EQ(run_hearth("template " + shell_quote(tmpl)).out, "ok");
  EXPECT_NE(run_hearth("template /no/such/file.jinja").code, 0);
  EXPECT_NE(run_hearth("template " + shell_quote(tmpl) + " --now yesterday").code, 0);
  EXPECT_NE(run_hearth("template " + shell_quote(tmpl) + " --context " +
                       shell_quote(write_temp("bad.json", "{not json")))
                .code,
            0);
  EXPECT_NE(run_hearth("template " + shell_quote(tmpl) + " --context " +
                       shell_quote(write_temp("arr.json", "[1]")))
                .code,
            0);
}

}  // namespace
