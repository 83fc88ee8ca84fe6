// `hearth run` as a user sees it: one-shot text on stdout and nothing else,
// --json with llama.cpp's greedy tokens (tests/data/golden/greedy.json, every
// quantization type), chat over piped stdin, and a clear error for a prompt
// longer than the context.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"
#include "cli/hearth_server.h"

namespace {

using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::slurp;

const std::string kData = std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/";

nlohmann::json golden() { return nlohmann::json::parse(slurp(kData + "greedy.json")); }

// llama.cpp's defaults behind the goldens: greedy, no repetition penalty.
const std::string kGreedy = " --temperature 0 --repeat-penalty 1 --ctx 256 ";

TEST(Run, OneShotPrintsOnlyTheGeneratedText) {
  const auto r =
      run_hearth("run tiny-kjv \"In the beginning\" --temperature 0 --repeat-penalty 1 -n 16");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_FALSE(r.out.empty());
  // The greedy continuation is llama.cpp's: our 16 tokens are a prefix of its 48.
  const std::string want = golden()["f16"][0]["text"];
  EXPECT_EQ(want.substr(0, r.out.size()), r.out);
}

TEST(Run, VerbosePutsStatisticsOnStderr) {
  const auto r = run_hearth("run tiny-kjv \"Jesus wept.\" -n 4 --seed 1 --verbose");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("tokens/s"), std::string::npos);
}

TEST(Run, JsonHasTheGoldenF16Tokens) {
  const auto g = golden()["f16"][0];
  const auto r = run_hearth("run tiny-kjv " + shell_quote(g["prompt"]) + kGreedy + "-n 48 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["prompt_tokens"], g["prompt_tokens"]);
  EXPECT_EQ(j["tokens"], g["tokens"]);
  EXPECT_EQ(j["eval_count"], 48);
  EXPECT_EQ(j["done_reason"], "length");
  EXPECT_EQ(j["text"], g["text"]);
}

TEST(Run, ChatOverPipedStdin) {
  const auto r =
      run_hearth("run tiny-kjv -n 8 --seed 3", "hello\n/set temperature 0.2\nand?\n/bye\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
}

// `cat notes | hearth run MODEL "prompt"`: the piped text comes first, then
// the prompt, as one completion (Ollama's CLI joins them the same way).
TEST(Run, PipedTextAndAPromptAreOnePrompt) {
  const std::string flags = " -n 3 --temperature 0 --json --local";
  const auto joined = run_hearth("run tiny-kjv \"And God said\"" + flags, "In the beginning\n");
  ASSERT_EQ(joined.code, 0) << joined.err;
  const auto typed =
      run_hearth("run tiny-kjv " + shell_quote("In the beginning\n And God said") + flags);
  ASSERT_EQ(typed.code, 0) << typed.err;
  EXPECT_EQ(nlohmann::json::parse(joined.out)["prompt_tokens"],
            nlohmann::json::parse(typed.out)["prompt_tokens"]);
}

// Unquoted words are one prompt, as Ollama's CLI takes them.
TEST(Run, UnquotedWordsAreOnePrompt) {
  const std::string flags = " -n 2 --temperature 0 --json --local";
  const auto words = run_hearth("run tiny-kjv In the beginning" + flags);
  ASSERT_EQ(words.code, 0) << words.err;
  const auto quoted = run_hearth("run tiny-kjv \"In the beginning\"" + flags);
  ASSERT_EQ(quoted.code, 0) << quoted.err;
  EXPECT_EQ(nlohmann::json::parse(words.out)["prompt_tokens"],
            nlohmann::json::parse(quoted.out)["prompt_tokens"]);
}

// A scripted chat whose turn fails exits 1, so that the script knows.
TEST(Run, APipedChatWithAFailedTurnExits1) {
  std::string words;
  for (int i = 0; i < 300; ++i) words += "word ";
  auto r = run_hearth("run --local tiny-kjv -n 2", words + "\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("hearth: error: the prompt has"), std::string::npos) << r.err;
  r = run_hearth("run --local tiny-kjv -n 2", "hello\n");
  EXPECT_EQ(r.code, 0) << r.err;
}

// A /set the API would refuse keeps the old value, and says why.
TEST(Run, ChatRefusesASettingOutOfRange) {
  const auto r = run_hearth("run --local tiny-kjv -n 2 --seed 3",
                            "/set top_k -3\n/set temperature nan\n/set top_p 0.5x\n"
                            "/set parameter top_k 7\n/show\n/bye\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("top_k must be >= 0 (0: off), got -3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("temperature must be a finite number >= 0, got nan"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("'0.5x' is not a valid value for top_p"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\ntemperature 0.8\ntop_k 7\ntop_p 0.9\n"), std::string::npos) << r.err;
}

// "/set seed -1" draws a random seed, as the API's -1 does (it was shown as
// 18446744073709551615); a bare "/set" says how to use it.
TEST(Run, ChatSeedMinusOneIsRandomAndBareSetSaysItsUsage) {
  const auto r = run_hearth("run --local tiny-kjv", "/set seed -1\n/show\n/set\n/bye\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("set seed to -1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("18446744073709551615"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: /set PARAM VALUE"), std::string::npos) << r.err;
}

// --format, as Ollama's CLI: the answer is a JSON document of the schema
// (given inline or as a file), the same with and without a server.
TEST(Run, FormatConstrainsTheAnswerWithAndWithoutAServer) {
  const std::string schema =
      R"({"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":9}},)"
      R"("required":["a"]})";
  const std::string args = " --chat hi -n 40 --temperature 0 --format ";
  auto r = run_hearth("run --local tiny-kjv" + args + shell_quote(schema));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc.is_object()) << r.out;
  ASSERT_TRUE(doc["a"].is_number_integer()) << r.out;
  EXPECT_GE(doc["a"].get<int>(), 0);
  EXPECT_LE(doc["a"].get<int>(), 9);

  hearth::test::TempDir dir;
  const std::string file = dir.path() + "/schema.json";
  std::ofstream(file) << schema;
  const auto from_file = run_hearth("run --local tiny-kjv" + args + shell_quote(file));
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, r.out);

  hearth::test::HearthServer server;
  setenv("HEARTH_HOST", ("127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  const auto served = run_hearth("run tiny-kjv" + args + shell_quote(schema));
  unsetenv("HEARTH_HOST");
  ASSERT_EQ(served.code, 0) << served.err;
  EXPECT_EQ(served.out, r.out);

  const auto bad = run_hearth("run --local tiny-kjv hi --format '{\"pattern\": \"x\"}'");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("'pattern' is not supported"), std::string::npos) << bad.err;
}

// /set changes what the chat sends to a server, as it changes a local chat
// (it used to say "set" and send the flags it started with); /show system
// shows this chat's system message.
TEST(Run, SetInAChatThroughAServerTakesEffect) {
  const std::string turns = "/set temperature 0\n/set num_predict 4\nHello\nHello\n/bye\n";
  const auto local = run_hearth("run --local tiny-kjv --seed 5", turns);
  ASSERT_EQ(local.code, 0) << local.err;
  hearth::test::HearthServer server;
  setenv("HEARTH_HOST", ("127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  const auto served = run_hearth("run tiny-kjv --seed 5", turns);
  const auto shown = run_hearth("run tiny-kjv --system 'Be brief'", "/show system\n/bye\n");
  const auto set = run_hearth("run tiny-kjv", "/set system Say little\n/show system\n/bye\n");
  unsetenv("HEARTH_HOST");
  ASSERT_EQ(served.code, 0) << served.err;
  EXPECT_EQ(served.out, local.out);
  // Two greedy replies of at most 4 tokens each: the same text twice, short.
  EXPECT_LT(served.out.size(), 80u) << served.out;
  EXPECT_NE(shown.err.find("Be brief"), std::string::npos) << shown.err;
  EXPECT_NE(set.err.find("Say little"), std::string::npos) << set.err;
}

// A message in """ spans lines and is one turn, text even when it starts
// with '/': here two replies, where line by line it would be three turns and
// the chat would end at the first.
TEST(Run, ChatTakesAMessageOfSeveralLinesInTripleQuotes) {
  const auto r = run_hearth("run --local tiny-kjv -n 2 --seed 3 --verbose",
                            "\"\"\"/bye\nsecond line\"\"\"\n\"\"\"one\"\"\"\n/bye\n");
  ASSERT_EQ(r.code, 0) << r.err;
  size_t replies = 0;
  for (size_t at = r.err.find("generation:"); at != std::string::npos;
       at = r.err.find("generation:", at + 1))
    ++replies;
  EXPECT_EQ(replies, 2u) << r.err;
}

TEST(Run, ChatEndsAtEndOfInput) {
  const auto r = run_hearth("run tiny-kjv -n 4 --seed 3", "/clear\nhello\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
}

TEST(Run, PromptLongerThanTheContextIsAClearError) {
  std::string prompt;
  for (int i = 0; i < 20; ++i) prompt += "And the LORD spake unto Moses, saying, ";
  const auto r = run_hearth("run tiny-kjv " + shell_quote(prompt) + " --ctx 64 -n 4");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // --truncate keeps the prompt's end instead.
  const auto t =
      run_hearth("run tiny-kjv " + shell_quote(prompt) + " --ctx 64 -n 4 --truncate --json");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_LE(nlohmann::json::parse(t.out)["prompt_tokens"].size(), 64u);
}

TEST(Run, MissingModelIsAClearError) {
  const auto r = run_hearth("run no-such-model hello");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
}

// Every quantization type of llama.cpp's goldens, made by hearth's quantizer.
// f16 and q8_0 must give llama.cpp's 48 greedy tokens exactly; every type's
// top-5 probabilities agree within 0.01 wherever the tokens so far agree (the
// 4-6 bit types may part from llama.cpp's tokens, and are compared up to there).
TEST(Run, GreedyGoldensForEveryType) {
  const auto all = golden();
  char dir[] = "/tmp/hearth_goldens_XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  for (const auto& [type, cases] : all.items()) {
    std::string model = "tiny-kjv";
    if (type != "f16") {
      model = d + "/" + type + ".gguf";
      const auto q = run_hearth("quantize tiny-kjv " + model + " " + type);
      ASSERT_EQ(q.code, 0) << q.err;
    }
    const bool exact = type == "f16" || type == "q8_0";
    const double tol = 0.01;
    for (const auto& g : cases) {
      // 20 probabilities, so that llama.cpp's 5th token is in our list even when we rank it 6th.
      const auto r = run_hearth("run " + model + " " + shell_quote(g["prompt"]) + kGreedy +
                                "-n 48 --json --probs 20");
      ASSERT_EQ(r.code, 0) << type << ": " << r.err;
      const auto j = nlohmann::json::parse(r.out);
      ASSERT_EQ(j["prompt_tokens"], g["prompt_tokens"]) << type;
      const auto& want = g["tokens"];
      const auto& got = j["tokens"];
      if (exact) {
        EXPECT_EQ(got, want) << type << " " << g["prompt"];
      }
      ASSERT_EQ(j["top"].size(), got.size());
      EXPECT_EQ(got.size(), 48u);
      for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
        for (const auto& w : g["top5"][i]) {
          double p = 0;  // our probability of llama.cpp's top-5 token
          for (const auto& o : j["top"][i])
            if (o[0] == w[0]) p = o[1];
          EXPECT_NEAR(p, w[1].get<double>(), tol) << type << " " << g["prompt"] << " @" << i;
        }
        if (got[i] != want[i]) break;  // different contexts from here on
      }
    }
  }
  std::filesystem::remove_all(d);
}

}  // namespace

namespace hearth::test {
namespace {

// Generated bytes that are not UTF-8 (a random-weight model samples lone byte
// tokens) are replaced by U+FFFD in --json's text, never an abort; the ids
// stay in `tokens`.
TEST(Run, JsonReplacesBytesThatAreNotUtf8) {
  const TempDir dir;
  const std::string model = dir.path() + "/small.gguf";
  ASSERT_EQ(run_hearth("synth --shape small --type q8_0 --seed 3 " + model).code, 0);
  bool replaced = false;
  for (int seed = 1; seed <= 6 && !replaced; ++seed) {
    // Temperature 5 samples nearly uniformly: byte tokens 0x80-0xFF come up.
    const auto r = run_hearth("run " + model + " hello -n 256 --temperature 5 --top-k 0 " +
                              "--top-p 1 --json --seed " + std::to_string(seed));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);  // valid UTF-8 JSON, always
    EXPECT_EQ(j["tokens"].size(), 256u);
    replaced = j["text"].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos;
  }
  EXPECT_TRUE(replaced) << "no invalid UTF-8 in 6 runs: the test did not exercise the case";
}

// Runs `hearth ARGS` on a terminal, as a user does (util-linux's script
// gives it one): `typed` is what the keyboard sends; returns what the terminal
// shows, the echo, stdout and stderr together.
Result on_a_terminal(const std::string& args, const std::string& typed) {
  return run_shell(
      "script -qec " + shell_quote(std::string(HEARTH_BIN) + " " + args) + " /dev/null", typed);
}

// libedit dropped every byte of a typed line its locale could not decode: in
// the "C" locale "Größe 日本" reached the chat as "Gre ".
TEST(Run, ATerminalChatKeepsTypedUtf8) {
  const auto r = on_a_terminal("run --local tiny-kjv",
                               "/set system Gr\xC3\xB6\xC3\x9F"
                               "e \xE6\x97\xA5\xE6\x9C\xAC\r/show system\r/bye\r");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\r\nGr\xC3\xB6\xC3\x9F"
                       "e \xE6\x97\xA5\xE6\x9C\xAC\r\n>>>"),
            std::string::npos)
      << r.out;
}

// One value per --stop: the prompt after it is the prompt (it was a second
// stop string, and the run a chat over an empty stdin that printed nothing).
TEST(Run, StopTakesOneValueEach) {
  const auto r =
      run_hearth("run --local tiny-kjv --stop . --stop ';' 'In the beginning' -n 6 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["prompt_tokens"].size(), 4u) << r.out;  // BOS and "In the beginning"
}

// --verbose counts every generated token, as eval_count does (it said one fewer).
TEST(Run, VerboseCountsEveryGeneratedToken) {
  const auto r = run_hearth("run --local tiny-kjv 'And God said' -n 12 --json --verbose --seed 3");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto n = nlohmann::json::parse(r.out)["eval_count"].get<int>();
  EXPECT_NE(r.err.find("generation: " + std::to_string(n) + " tokens"), std::string::npos)
      << n << " " << r.err;
}

// Through a server: text that is not UTF-8 (a piped Latin-1 file) goes with
// U+FFFD in its place (it was a JSON library's exception); --verbose's lines
// start on their own line, after the reply's, and an answer repeated from the
// server's cache says so instead of a speed of thousands of tokens a second.
TEST(Run, ThroughAServerLatin1InputVerboseLinesAndCachedAnswers) {
  HearthServer server;
  setenv("HEARTH_HOST", ("127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  const auto latin1 = run_hearth("run tiny-kjv 'continue:' -n 3", "caf\xe9 au lait");
  const std::string once = "run tiny-kjv 'And God said' -n 5 --temperature 0 --verbose";
  const auto first = on_a_terminal(once, "");
  const auto again = run_hearth(once);
  const auto chat = on_a_terminal("run tiny-kjv -n 3 --verbose", "Hello\r/bye\r");
  unsetenv("HEARTH_HOST");
  EXPECT_EQ(latin1.code, 0) << latin1.err;
  EXPECT_EQ(latin1.err, "");
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("\r\nprompt: 4 tokens"), std::string::npos) << first.out;
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.err, "5 tokens, repeated from the server's cache\n");
  ASSERT_EQ(chat.code, 0) << chat.out;
  EXPECT_NE(chat.out.find("\r\nprompt: "), std::string::npos) << chat.out;
}

// /show in a chat through a server lists the model's stored parameters and
// what the chat set; it listed the CLI's own defaults (temperature 0.8), which
// the server never used.
TEST(Run, ShowInAChatThroughAServerListsTheModelsParameters) {
  HearthServer server;
  const auto c = server.post("/api/create", {{"model", "calm"},
                                             {"from", "tiny-kjv"},
                                             {"parameters", {{"temperature", 0.25}}},
                                             {"stream", false}});
  ASSERT_EQ(c.status, 200) << c.body;
  setenv("HEARTH_HOST", ("127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  const auto r = run_hearth("run calm", "/set top_k 7\n/show\n/bye\n");
  unsetenv("HEARTH_HOST");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0.25"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("0.8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("set in this chat:\ntop_k 7"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hearth::test
