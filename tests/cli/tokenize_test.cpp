// `hearth tokenize` as a user runs it: on the bundled model and on each
// vocab-only GGUF of tests/data/vocab, against llama.cpp's test vectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/hearth_process.h"

namespace {

using hearth::test::Result;
using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::slurp;

std::string vocab(const std::string& name) {
  return std::string(HEARTH_SOURCE_DIR) + "/tests/data/vocab/ggml-vocab-" + name + ".gguf";
}

TEST(TokenizeCli, BundledModelStartsWithBos) {
  const Result r = run_hearth("tokenize tiny-kjv -p 'In the beginning'");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto ids = nlohmann::json::parse(r.out);
  ASSERT_TRUE(ids.is_array());
  ASSERT_GT(ids.size(), 1u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(r.out.substr(0, 4), "[1, ");

  const Result nobos = run_hearth("tokenize tiny-kjv -p 'In the beginning' --no-bos");
  ASSERT_EQ(nobos.code, 0);
  auto rest = nlohmann::json::array();
  for (size_t i = 1; i < ids.size(); ++i) rest.push_back(ids[i]);
  EXPECT_EQ(nlohmann::json::parse(nobos.out), rest);
}

TEST(TokenizeCli, ParseSpecialOnlyWhenAsked) {
  const Result plain = run_hearth("tokenize tiny-kjv -p 'a</s>b' --no-bos");
  const Result special = run_hearth("tokenize tiny-kjv -p 'a</s>b' --no-bos --parse-special");
  ASSERT_EQ(plain.code, 0);
  ASSERT_EQ(special.code, 0);
  const auto p = nlohmann::json::parse(plain.out);
  const auto s = nlohmann::json::parse(special.out);
  EXPECT_EQ(std::count(p.begin(), p.end(), 2), 0) << plain.out;
  EXPECT_EQ(std::count(s.begin(), s.end(), 2), 1) << special.out;
}

TEST(TokenizeCli, PiecesOnePerLine) {
  const Result r = run_hearth("tokenize tiny-kjv -p 'In the beginning' --pieces");
  ASSERT_EQ(r.code, 0);
  const Result ids = run_hearth("tokenize tiny-kjv -p 'In the beginning'");
  const auto arr = nlohmann::json::parse(ids.out);
  std::istringstream lines(r.out);
  std::string line, text;
  size_t n = 0;
  while (std::getline(lines, line)) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    EXPECT_EQ(std::stoi(line.substr(0, tab)), arr[n].get<int>());
    text += nlohmann::json::parse(line.substr(tab + 1)).get<std::string>();
    ++n;
  }
  EXPECT_EQ(n, arr.size());
  EXPECT_EQ(text, "<s> In the beginning");
}

TEST(TokenizeCli, UsageErrors) {
  EXPECT_NE(run_hearth("tokenize tiny-kjv").code, 0);
  EXPECT_NE(run_hearth("tokenize /no/such/model.gguf -p x").code, 0);
  EXPECT_NE(run_hearth("tokenize tiny-kjv -p x -f /etc/hostname").code, 0);
}

TEST(TokenizeCli, BenchPrintsSpeed) {
  const Result r =
      run_hearth("tokenize tiny-kjv -p 'In the beginning God created the heaven' --bench");
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("MB/s"), std::string::npos) << r.out;
}

// For each vocabulary, some of llama.cpp's vectors through the program (-f
// keeps the bytes exact). The unit tests run all of them in-process.
TEST(TokenizeCli, VocabFilesMatchLlamaCpp) {
  const hearth::test::TempDir dir;
  const std::string tmp = dir.path() + "/input.txt";
  for (const char* name : {"llama-spm", "gpt-2", "falcon", "deepseek-llm"}) {
    const std::string inp = slurp(vocab(name) + ".inp");
    const std::string outs = slurp(vocab(name) + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (size_t pos = 0; pos < inp.size();) {
      const size_t hit = inp.find(sep, pos);
      texts.push_back(inp.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos));
      if (hit == std::string::npos) break;
      pos = hit + sep.size();
    }
    std::vector<std::string> lines;
    std::istringstream ls(outs);
    for (std::string l; std::getline(ls, l);) lines.push_back(l);
    ASSERT_EQ(texts.size(), lines.size()) << name;
    for (size_t i = 0; i < texts.size(); i += 7) {
      std::ofstream(tmp, std::ios::binary) << texts[i];
      const Result r = run_hearth("tokenize " + shell_quote(vocab(name)) + " -f " +
                                  shell_quote(tmp) + " --no-bos");
      ASSERT_EQ(r.code, 0) << name << " vector " << i;
      std::vector<int> expected;
      std::istringstream ids(lines[i]);
      for (int id; ids >> id;) expected.push_back(id);
      EXPECT_EQ(nlohmann::json::parse(r.out).get<std::vector<int>>(), expected)
          << name << " vector " << i;
    }
  }
}

}  // namespace
