// The regex engine: ECMAScript semantics on small cases, and agreement with
// the hand-written GPT-2 / Llama 3 / Qwen2 splitters on random text (llama.cpp
// uses hand-written splitters for those three patterns and std::regex for
// the others, and the two must cut text the same way).
#include "tokenizer/regex.h"

#include <gtest/gtest.h>

#include <random>

#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

// Splits `text` with `pattern` and returns the pieces as strings.
std::vector<std::string> pieces(const std::string& pattern, const std::string& text) {
  const auto cps = unicode::decode(text);
  const auto lens = Regex(pattern).split(cps, {cps.size()});
  std::vector<std::string> out;
  size_t at = 0;
  for (const size_t n : lens) {
    std::string s;
    for (size_t i = at; i < at + n; ++i) unicode::append_utf8(s, cps[i]);
    out.push_back(s);
    at += n;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Regex, AlternativesInOrderNotLongest) {
  EXPECT_EQ(pieces("a|ab", "abab"), (V{"a", "b", "a", "b"}));
  EXPECT_EQ(pieces("ab|a", "abab"), (V{"ab", "ab"}));
}

TEST(Regex, QuantifiersAndGaps) {
  EXPECT_EQ(pieces("[0-9]{1,3}", "x1234567y"), (V{"x", "123", "456", "7", "y"}));
  EXPECT_EQ(pieces("[0-9][0-9][0-9]", "12 3456"), (V{"12 ", "345", "6"}));
  EXPECT_EQ(pieces("a+?", "aaa"), (V{"a", "a", "a"}));
}

TEST(Regex, LookaheadAndEnd) {
  EXPECT_EQ(pieces("\\s+(?!\\S)", "a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(pieces("\\s+$", "a  b  "), (V{"a  b", "  "}));
  EXPECT_EQ(pieces("x(?=y)", "xxyx"), (V{"x", "x", "yx"}));
}

TEST(Regex, UnicodeClassesCollapseToCategories) {
  // \p{L} matches letters of any script; in a \p pattern ASCII '~' is not a
  // symbol (llama.cpp's ASCII table leaves it out), '$' is.
  EXPECT_EQ(pieces("\\p{L}+", "héllo 中文!"), (V{"héllo", " ", "中文", "!"}));
  EXPECT_EQ(pieces("\\p{S}+", "a$~"), (V{"a", "$", "~"}));
  // Non-ASCII whitespace matches \s, in both kinds of pattern.
  EXPECT_EQ(pieces("\\s+",
                   "a\xE3\x80\x80"
                   "b"),
            (V{"a", "\xE3\x80\x80", "b"}));
  EXPECT_EQ(pieces("\\p{N}+", "x\xD9\xA3\xD9\xA4y"), (V{"x", "\xD9\xA3\xD9\xA4", "y"}));
}

TEST(Regex, LongRunsStayLinear) {
  // 200k spaces and a digit: \s+$ never matches; a naive search is quadratic.
  const std::vector<uint32_t> cps = [] {
    std::vector<uint32_t> v(200000, ' ');
    v.push_back('5');
    return v;
  }();
  EXPECT_EQ(Regex("\\s+$").split(cps, {cps.size()}), (std::vector<size_t>{cps.size()}));
  EXPECT_EQ(Regex("\\s+[0-9]").split(cps, {cps.size()}), (std::vector<size_t>{cps.size()}));
  EXPECT_EQ(Regex("\\s+5$").split(cps, {cps.size()}), (std::vector<size_t>{cps.size()}));
  EXPECT_EQ(pieces("\\s+$", "a  b  "), (V{"a  b", "  "}));
  EXPECT_EQ(pieces("x*y", "xxaxxy"), (V{"xxa", "xxy"}));
}

TEST(Regex, BadPatternsAreRefused) {
  EXPECT_THROW(Regex("(a"), std::runtime_error);
  EXPECT_THROW(Regex("[z-a]"), std::runtime_error);
  EXPECT_THROW(Regex("\\p{Xx}"), std::runtime_error);
  EXPECT_THROW(Regex("*a"), std::runtime_error);
}

// Random text over characters that exercise every branch of the patterns.
std::string random_text(std::mt19937& rng, size_t n) {
  static const std::vector<std::string> alphabet = {"a",
                                                    "Z",
                                                    "s",
                                                    "t",
                                                    "e",
                                                    "r",
                                                    "v",
                                                    "l",
                                                    "d",
                                                    "m",
                                                    "S",
                                                    "T",
                                                    "L",
                                                    "E",
                                                    "'",
                                                    "'",
                                                    "0",
                                                    "7",
                                                    " ",
                                                    " ",
                                                    " ",
                                                    "\n",
                                                    "\r",
                                                    "\t",
                                                    ".",
                                                    ",",
                                                    "!",
                                                    "$",
                                                    "~",
                                                    "(",
                                                    "_",
                                                    "é",
                                                    "ß",
                                                    "中",
                                                    "\xD9\xA3" /* Arabic-Indic 3 */,
                                                    "\xCC\x81" /* combining acute */,
                                                    "\xE3\x80\x80" /* ideographic space */,
                                                    "\xC2\xA0" /* no-break space */,
                                                    "\xE2\x82\xAC" /* euro */,
                                                    "\xF0\x9F\x98\x80" /* emoji */,
                                                    "\xC2\x85" /* NEL */,
                                                    "\xCD\xB8" /* unassigned U+0378 */};
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[pick(rng)];
  return s;
}

void cross_check(const std::string& pre, const std::string& pattern) {
  const PreTokenizer custom = PreTokenizer::for_name(pre);
  const Regex engine(pattern);
  std::mt19937 rng(1234);
  for (int round = 0; round < 400; ++round) {
    const auto cps = unicode::decode(random_text(rng, 1 + round % 40));
    const auto a = custom.split(cps);
    const auto b = engine.split(cps, {cps.size()});
    ASSERT_EQ(a, b) << pre << " round " << round;
  }
}

TEST(Regex, AgreesWithHandWrittenGpt2) {
  cross_check("gpt-2",
              "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)");
}

TEST(Regex, AgreesWithHandWrittenLlama3) {
  cross_check(
      "llama-bpe",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
      "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
}

TEST(Regex, AgreesWithHandWrittenQwen2) {
  cross_check(
      "qwen2",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
}

TEST(PreTokenizers, EveryKnownNameBuilds) {
  for (const auto& name : PreTokenizer::known_names()) {
    const PreTokenizer p = PreTokenizer::for_name(name);
    const auto cps = unicode::decode("Hello, world! It's 12345 \xE4\xB8\xAD\xE6\x96\x87  x\n\n");
    const auto lens = p.split(cps);
    size_t sum = 0;
    for (const size_t n : lens) sum += n;
    EXPECT_EQ(sum, cps.size()) << name;
  }
  EXPECT_THROW(PreTokenizer::for_name("gpt-5-imaginary"), std::runtime_error);
}

TEST(PreTokenizers, DigitGroupingPerFamily) {
  const auto cps = unicode::decode("1234567");
  EXPECT_EQ(PreTokenizer::for_name("llama-bpe").split(cps), (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(PreTokenizer::for_name("qwen2").split(cps), (std::vector<size_t>(7, 1)));
  EXPECT_EQ(PreTokenizer::for_name("starcoder").split(cps), (std::vector<size_t>(7, 1)));
  EXPECT_EQ(PreTokenizer::for_name("gpt-4o").split(cps), (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(PreTokenizer::for_name("gpt-2").split(cps), (std::vector<size_t>{7}));
}

}  // namespace
}  // namespace hearth::tokenizer

namespace hearth::tokenizer {
namespace {

std::vector<std::string> pre_pieces(const std::string& pre, const std::string& text) {
  const auto cps = unicode::decode(text);
  std::vector<std::string> out;
  size_t at = 0;
  for (const size_t n : PreTokenizer::for_name(pre).split(cps)) {
    std::string s;
    for (size_t i = at; i < at + n; ++i) unicode::append_utf8(s, cps[i]);
    out.push_back(s);
    at += n;
  }
  return out;
}

TEST(PreTokenizers, Gpt4oCaseRunsAndContractions) {
  // Worked by hand from the pattern: an upper-case run takes a contraction,
  // a capitalised word ends where the next capital starts, digits go by three.
  EXPECT_EQ(pre_pieces("gpt-4o", "Hello WORLD's 123456 HelloWorld"),
            (std::vector<std::string>{"Hello", " WORLD's", " ", "123", "456", " Hello", "World"}));
}

TEST(PreTokenizers, DeepseekCoderSplitsNewlinesAndDigits) {
  EXPECT_EQ(pre_pieces("deepseek-coder", "ab\n12 (x)"),
            (std::vector<std::string>{"ab", "\n", "1", "2", " (", "x", ")"}));
}

}  // namespace
}  // namespace hearth::tokenizer
