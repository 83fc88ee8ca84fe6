// What a careless or hostile user can pass: out-of-range numbers (threads,
// context sizes, token counts), an output that cannot be written, and a
// crafted model whose strings hold terminal escape sequences. Each ends in a
// clear error (exit 1, never an abort) or in escaped text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/hearth_process.h"
#include "gguf/value.h"
#include "gguf/writer.h"

namespace {

using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::slurp;
using hearth::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kData = std::string(HEARTH_SOURCE_DIR) + "/tests/data/";

// Every command that takes -t refuses counts outside 1 .. 4 x online CPUs with
// the limit named, and exit status 1 (not 134 from std::terminate).
TEST(UserInput, ThreadCountsOutOfRange) {
  const TempDir dir;
  const std::string text = dir.path() + "/t.txt";
  std::ofstream(text) << "In the beginning God created the heaven and the earth.\n";
  const std::vector<std::string> commands = {
      "bench tiny-kjv -p 8 -n 2 -r 1",
      "perplexity tiny-kjv -f " + text + " --ctx 16",
      "quantize tiny-kjv " + dir.path() + "/q.gguf q8_0",
      "synth --shape small " + dir.path() + "/s.gguf",
  };
  for (const std::string& cmd : commands) {
    for (const char* t : {"0", "-1", "100000"}) {
      const auto r = run_hearth(cmd + " -t " + t);
      EXPECT_EQ(r.code, 1) << cmd << " -t " << t << "\n" << r.err;
      EXPECT_THAT(r.err, HasSubstr("thread count must be between 1 and ")) << cmd;
      EXPECT_THAT(r.err, HasSubstr(std::string("got ") + t)) << cmd;
    }
  }
  // run: its default is still spelled 0 (engine::Runtime::load's int overload).
  for (const char* t : {"-1", "100000"}) {
    const auto r = run_hearth(std::string("run tiny-kjv hello -n 2 -t ") + t);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("thread count must be between 1 and "));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/q.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/s.gguf"));
}

TEST(UserInput, ContextSizesOutOfRange) {
  for (const char* ctx : {"0", "-1", "15", "99999999999999"}) {
    const auto r = run_hearth(std::string("show tiny-kjv --ctx ") + ctx);
    EXPECT_EQ(r.code, 1) << ctx;
    EXPECT_THAT(r.err, HasSubstr("--ctx must be between 16 and")) << r.err;
    EXPECT_EQ(r.out, "") << ctx;  // nothing half-printed, no 300-digit numbers
  }
  EXPECT_EQ(run_hearth("show tiny-kjv --ctx 16").code, 0);
  const TempDir dir;
  const std::string text = dir.path() + "/t.txt";
  std::ofstream(text) << "In the beginning God created the heaven and the earth.\n";
  for (const char* ctx : {"0", "100000"}) {
    const auto r = run_hearth("perplexity tiny-kjv -f " + text + " --ctx " + ctx);
    EXPECT_EQ(r.code, 1) << ctx;
    EXPECT_THAT(r.err, HasSubstr("--ctx must be between 16 and 1024 (4 x the model's training "
                                 "context of 256), got " +
                                 std::string(ctx)));
  }
}

// A negative number or NaN is the user's error, never read as "not given"
// (the flags' own defaults hid them: --port -1 served on 11434).
TEST(UserInput, NegativeAndNotANumberFlagsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"serve --port -1", "--port must be in [0, 65535], got -1"},
      {"serve --parallel -2", "--parallel must be in [1, 256], got -2"},
      {"serve --metrics-port -1", "--metrics-port must be in [0, 65535], got -1"},
      {"serve --max-loaded-models -1", "--max-loaded-models must be in [1, 64], got -1"},
      {"serve --max-queue -1", "--max-queue must be in [0, 1000000], got -1"},
      {"run --local tiny-kjv hi -n 2 --temperature nan",
       "--temperature must be a finite number, got nan"},
      {"run --local tiny-kjv hi -n 2 --top-p inf", "--top-p must be a finite number, got inf"},
      {"cost --tokens-per-day -5", "--tokens-per-day must be between 0 and 1e12, got -5"},
      {"cost --tokens-per-day nan", "--tokens-per-day must be between 0 and 1e12, got nan"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_hearth(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_THAT(r.err, HasSubstr(message)) << args;
  }
}

TEST(UserInput, BenchCountsOutOfRange) {
  for (const char* args :
       {"-p -1", "-n -5", "-p 9223372036854775807 -n 9223372036854775807", "-r 0", "-p 0 -n 0",
        "-d -3", "-d 9223372036854775807 -p 9223372036854775807"}) {
    const auto r = run_hearth(std::string("bench tiny-kjv ") + args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("bench: ")) << args;
  }
  // Beyond 4 x 256: each test starts from the depth (here 0), so the prompt's 5000 tokens and one
  // more.
  const auto r = run_hearth("bench tiny-kjv -p 5000 -n 1");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("need a context of 5001 tokens"));
}

// Output that cannot be written (a full disk) is an error, not exit 0.
TEST(UserInput, FailedWritesToStdoutAreErrors) {
  const TempDir dir;
  for (const std::string args :
       {"show tiny-kjv", "show tiny-kjv --json", "tokenize tiny-kjv -p 'hello world'"}) {
    const std::string err = dir.path() + "/err";
    const int status =
        std::system((std::string(HEARTH_BIN) + " " + args + " >/dev/full 2>" + err).c_str());
    ASSERT_TRUE(WIFEXITED(status)) << args;
    EXPECT_EQ(WEXITSTATUS(status), 1) << args;
    EXPECT_THAT(slurp(err), HasSubstr("cannot write the output: No space left on device")) << args;
  }
}

// A model whose strings hold escape sequences: `show` prints them escaped.
TEST(UserInput, ShowEscapesControlCharacters) {
  const TempDir dir;
  const std::string path = dir.path() + "/evil.gguf";
  {
    hearth::gguf::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name",
                 "evil\x1b[31mred\x07\xc2\x9b"
                 "2J\x7f");
    w.set_string("general.\x1b]0;pwned\x07", "key with an OSC sequence");
    w.set("tokenizer.ggml.tokens", hearth::gguf::Value::of_strings({"a", "\x1b[2J",
                                                                    "\xc2\x9b"
                                                                    "1m"}));
    w.write(path);
  }
  for (const std::string flags : {"", " --metadata", " --json --metadata"}) {
    const auto r = run_hearth("show " + shell_quote(path) + flags);
    ASSERT_EQ(r.code, 0) << flags << "\n" << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << flags << ": a raw ESC\n" << r.out;
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << flags;
    EXPECT_EQ(r.out.find('\x7f'), std::string::npos) << flags;
    EXPECT_EQ(r.out.find("\xc2\x9b"), std::string::npos) << flags << ": a raw CSI";
    if (flags.find("json") == std::string::npos) {
      EXPECT_THAT(r.out, HasSubstr("evil\\x1b[31mred\\x07\\u009b2J\\x7f")) << r.out;
      if (!flags.empty()) {
        EXPECT_THAT(r.out, HasSubstr("general.\\x1b]0;pwned\\x07 = "));
      }
    } else {
      EXPECT_THAT(r.out, HasSubstr("evil\\u001b[31mred\\u0007\\u009b2J\\u007f")) << r.out;
    }
  }
}

// A file named where hearth reads a whole document (a Modelfile, a template,
// a template's context, a text) that never ends is refused at a bound, not
// read until memory runs out; a binary file's error is short and escaped.
TEST(UserInput, EndlessAndBinaryFilesAreClearErrors) {
  TempDir home;
  setenv("HEARTH_HOME", home.path().c_str(), 1);
  for (const std::string cmd :
       {"create x -f /dev/zero", "template /dev/zero", "template chatml --context /dev/zero",
        "run --local tiny-kjv --chat hi --template /dev/zero -n 1"}) {
    const auto r = run_hearth(cmd);
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("'/dev/zero' is larger than 16777216 bytes")) << cmd;
  }
  const std::string mf = home.path() + "/Modelfile";
  std::string binary = "FROM tiny-kjv\n\x1b]0;title\x07";
  binary += std::string(100000, 'x');
  std::ofstream(mf, std::ios::binary) << binary;
  const auto r = run_hearth("create x -f " + shell_quote(mf));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown instruction '\\x1b]0;title\\x07xxx"));
  EXPECT_THAT(r.err, Not(HasSubstr("\x1b")));
  EXPECT_LT(r.err.size(), 300u) << r.err;
  unsetenv("HEARTH_HOME");
}

}  // namespace
