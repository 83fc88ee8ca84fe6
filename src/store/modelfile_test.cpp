// The Modelfile parser: Ollama's syntax, typed parameters, errors with line numbers.
#include "store/modelfile.h"

#include <gtest/gtest.h>

namespace {

using namespace hearth::store;

std::string error_of(const std::string& text) {
  try {
    parse_modelfile(text, "Modelfile");
  } catch (const ModelfileError& e) {
    return e.what();
  }
  return "";
}

TEST(Modelfile, ParsesEveryInstruction) {
  const Modelfile mf = parse_modelfile(R"(# a comment
from tiny-kjv
PARAMETER temperature 0.7
PARAMETER num_ctx 4096
PARAMETER stop "<|end|>"
parameter stop User:
PARAMETER use_mmap true
SYSTEM """You are
a helpful assistant."""
TEMPLATE "{{ messages[0]['content'] }}"
MESSAGE user Hello
MESSAGE assistant "Hi there"
LICENSE MIT
)",
                                       "Modelfile");
  EXPECT_EQ(mf.from, "tiny-kjv");
  EXPECT_EQ(mf.parameters["temperature"], 0.7);
  EXPECT_TRUE(mf.parameters["temperature"].is_number_float());
  EXPECT_EQ(mf.parameters["num_ctx"], 4096);
  EXPECT_TRUE(mf.parameters["num_ctx"].is_number_integer());
  EXPECT_EQ(mf.parameters["stop"], nlohmann::json::array({"<|end|>", "User:"}));
  EXPECT_EQ(mf.parameters["use_mmap"], true);
  EXPECT_EQ(*mf.system, "You are\na helpful assistant.");
  EXPECT_EQ(*mf.template_text, "{{ messages[0]['content'] }}");
  ASSERT_EQ(mf.messages.size(), 2u);
  EXPECT_EQ(mf.messages[0].role, "user");
  EXPECT_EQ(mf.messages[0].content, "Hello");
  EXPECT_EQ(mf.messages[1].content, "Hi there");
  EXPECT_EQ(*mf.license, "MIT");
}

TEST(Modelfile, ErrorsNameTheLine) {
  EXPECT_EQ(error_of("FROM x\n\nPARAMETER foo 1\n"), "Modelfile:3: unknown parameter 'foo'");
  EXPECT_EQ(error_of("FROM x\nPARAMETER top_k abc\n"),
            "Modelfile:2: parameter 'top_k' wants an integer, got 'abc'");
  EXPECT_EQ(error_of("FROM x\nPARAMETER temperature hot\n"),
            "Modelfile:2: parameter 'temperature' wants a number, got 'hot'");
  EXPECT_EQ(error_of("FROM x\nADAPTER ./lora.gguf\n"), "Modelfile:2: ADAPTER is not supported yet");
  EXPECT_EQ(
      error_of("FROM x\nFROBNICATE y\n").rfind("Modelfile:2: unknown instruction 'FROBNICATE'", 0),
      0u);
  EXPECT_EQ(error_of("FROM x\nSYSTEM \"\"\"never\nclosed\n"),
            "Modelfile:2: SYSTEM: the \"\"\" opened here is never closed");
  EXPECT_EQ(error_of("FROM x\nSYSTEM \"open\n"),
            "Modelfile:2: SYSTEM: the quoted value is never closed");
  EXPECT_EQ(error_of("FROM x\nMESSAGE robot hi\n").rfind("Modelfile:2: MESSAGE role", 0), 0u);
  EXPECT_EQ(error_of("FROM x\nSYSTEM\n"), "Modelfile:2: SYSTEM needs a value");
  // A binary file's first word: control bytes escaped, so that a NUL does not
  // cut the message short.
  EXPECT_EQ(error_of(std::string("GGUF\x03\0\0\0\x01\0 rest", 15)),
            "Modelfile:1: unknown instruction 'GGUF\\x03\\x00\\x00\\x00\\x01\\x00' (expected "
            "FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE or LICENSE)");
  EXPECT_EQ(error_of("PARAMETER top_k 1\n"), "Modelfile: no FROM line (FROM names the base model)");
  EXPECT_NE(error_of("FROM x\nFROM y\n").find("second FROM"), std::string::npos);
  // The line count continues past a multi-line value.
  EXPECT_EQ(error_of("FROM x\nSYSTEM \"\"\"a\nb\nc\"\"\"\nPARAMETER bad 1\n"),
            "Modelfile:5: unknown parameter 'bad'");
}

TEST(Modelfile, RefusesGoTemplates) {
  for (const char* t :
       {"{{ .Prompt }}", "{{- if .System }}x{{ end }}", "{{ range .Messages }}", "{{$x := 1}}"}) {
    const std::string e = error_of(std::string("FROM x\nTEMPLATE \"\"\"") + t + "\"\"\"\n");
    EXPECT_NE(e.find("Modelfile:2: TEMPLATE uses Go template syntax"), std::string::npos) << e;
    EXPECT_NE(e.find("Jinja"), std::string::npos) << e;
  }
  EXPECT_NO_THROW(check_template(
      "{% for message in messages %}{{ message['role'] }}{% if loop.last %}{{ eos_token }}{% "
      "endif %}{% endfor %}{{ range(3) | list }}"));
}

// Go's words are refused only where Jinja cannot have them: Jinja's own
// `not`, `range (...)`, `and`/`or` inside an expression pass.
TEST(Modelfile, JinjaThatSharesAWordWithGoPasses) {
  for (const char* t : {"{% for m in messages %}{{ m['content'] }}{{ not loop.last and '|' or '' "
                        "}}{% endfor %}",
                        "{{ range (3) | join(',') }}", "{{- not x }}", "{{ len }}",
                        "{{ end_of_turn }}", "{{ '$' ~ x.y }}", "{{ 'a .b' }}", "{{ eq }}"})
    EXPECT_NO_THROW(check_template(t)) << t;
  for (const char* t : {"{{ not .System }}", "{{ range $i, $m := .Messages }}", "{{ end }}",
                        "{{- else if .Tools }}", "{{ and .A .B }}", "{{ template \"x\" . }}",
                        "{{/* comment */}}", "{{ len .Messages }}", "{{ eq (index .M 0) 1 }}"})
    EXPECT_THROW(check_template(t), std::invalid_argument) << t;
}

TEST(Modelfile, CheckParametersForTheApi) {
  EXPECT_NO_THROW(check_parameters({{"temperature", 1}, {"stop", {"a", "b"}}, {"seed", 3}}));
  EXPECT_THROW(check_parameters({{"seed", "3"}}), std::invalid_argument);
  EXPECT_THROW(check_parameters({{"use_mmap", 1}}), std::invalid_argument);
  EXPECT_THROW(check_parameters({{"seed", 1e300}}), std::invalid_argument);
  EXPECT_THROW(check_parameters({{"nope", 1}}), std::invalid_argument);
  EXPECT_THROW(check_parameters(nlohmann::json::array()), std::invalid_argument);
}

// As a request's options are read (Go's FromMap): a number for an integer
// (2048.0 from a client that writes every number as a float), the fraction
// dropped; null sets nothing.
TEST(Modelfile, CheckParametersReadsNumbersAsRequestOptionsDo) {
  const nlohmann::json typed = check_parameters(
      {{"num_ctx", 2048.0}, {"seed", 1.5}, {"temperature", nullptr}, {"top_p", 0.5}});
  EXPECT_EQ(typed, nlohmann::json({{"num_ctx", 2048}, {"seed", 1}, {"top_p", 0.5}}));
  EXPECT_TRUE(typed["num_ctx"].is_number_integer());
  EXPECT_EQ(option_integer(nlohmann::json(-3.9)), -3);
  EXPECT_EQ(option_integer(nlohmann::json(uint64_t{1} << 63)), std::nullopt);
  EXPECT_EQ(option_integer(nlohmann::json("1")), std::nullopt);
}

// What write_modelfile writes, parse_modelfile reads back as it was: quotes,
// backslashes, newlines, a trailing quote, a stop list, empty texts.
TEST(Modelfile, WrittenIsReadBackTheSame) {
  Modelfile mf;
  mf.from = "/models/my model.gguf";
  mf.template_text = "{{ messages[0]['content'] }}\n";
  mf.system = "Say \"yes\" or \\no\\";
  mf.license = "line one\nline \"two\"";
  mf.parameters = {{"temperature", 0.25},
                   {"top_k", 7},
                   {"use_mmap", false},
                   {"stop", {"<|end|>", "a \"quote\"", "back\\slash"}}};
  mf.messages = {{"user", "ends in a quote\""}, {"assistant", ""}, {"system", "two\nlines"}};
  const Modelfile back = parse_modelfile(write_modelfile(mf, "x:latest"), "written");
  EXPECT_EQ(back.from, mf.from);
  EXPECT_EQ(back.template_text, mf.template_text);
  EXPECT_EQ(back.system, mf.system);
  EXPECT_EQ(back.license, mf.license);
  EXPECT_EQ(back.parameters, mf.parameters);
  ASSERT_EQ(back.messages.size(), mf.messages.size());
  for (size_t i = 0; i < mf.messages.size(); ++i) {
    EXPECT_EQ(back.messages[i].role, mf.messages[i].role);
    EXPECT_EQ(back.messages[i].content, mf.messages[i].content);
  }
}

}  // namespace
