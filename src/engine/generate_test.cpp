// Generation's stopping rules and perplexity's window arithmetic on the bundled model.
#include "engine/generate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/perplexity.h"
#include "engine/runtime.h"
#include "engine/tiny_kjv_test.h"

namespace hearth::engine {
namespace {

using test::tiny_kjv;

using test::greedy;

// llama.cpp's greedy continuation of "In the beginning" (tests/data/golden/greedy.json).
const std::vector<int32_t> kPrompt = {1, 512, 278, 6763};
const std::vector<int32_t> kGolden = {29892, 322, 278, 1734, 310, 278, 365, 25593};

TEST(Generate, StopsAtTheTokenLimit) {
  auto& rt = tiny_kjv();
  Session s(*rt.model, {.n_ctx = 64});
  std::string streamed;
  const auto r = generate(s, *rt.tokenizer, kPrompt, greedy(5),
                          [&](std::string_view t, const GenerateResult&) {
                            streamed += t;
                            return true;
                          });
  EXPECT_EQ(r.tokens, std::vector<int32_t>(kGolden.begin(), kGolden.begin() + 5));
  EXPECT_EQ(r.done_reason, "length");
  EXPECT_EQ(r.text, ", and the word of");
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.timings.prompt_tokens, 4);
  EXPECT_EQ(r.timings.gen_tokens, 4);  // the last token is sampled, not evaluated
  EXPECT_GT(r.timings.prompt_tokens_per_s(), 0);
}

TEST(Generate, StopsBeforeAStopString) {
  auto& rt = tiny_kjv();
  Session s(*rt.model, {.n_ctx = 64});
  auto o = greedy(20);
  o.stop = {"LORD"};
  const auto r = generate(s, *rt.tokenizer, kPrompt, o);
  EXPECT_EQ(r.text, ", and the word of the ");
  EXPECT_EQ(r.done_reason, "stop");
}

TEST(Generate, StopsWhenTheContextIsFull) {
  auto& rt = tiny_kjv();
  Session s(*rt.model, {.n_ctx = 8});
  const auto r = generate(s, *rt.tokenizer, kPrompt, greedy(-1));
  EXPECT_EQ(r.tokens.size(), 5u);  // 4 evaluated to fill the context, then one more sampled
  EXPECT_EQ(r.done_reason, "length");
  EXPECT_EQ(s.n_past(), 8);
}

TEST(Generate, CallerCanStopAndTopProbsAreSorted) {
  auto& rt = tiny_kjv();
  Session s(*rt.model, {.n_ctx = 64});
  auto o = greedy(10);
  o.n_probs = 3;
  int calls = 0;
  const auto r = generate(s, *rt.tokenizer, kPrompt, o,
                          [&](std::string_view, const GenerateResult&) { return ++calls < 2; });
  EXPECT_EQ(r.done_reason, "stop");
  EXPECT_EQ(r.tokens.size(), 2u);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0][0].id, kGolden[0]);
  EXPECT_NEAR(r.top[0][0].prob, 0.42616, 0.01);  // llama.cpp's figure
  EXPECT_GE(r.top[0][0].prob, r.top[0][1].prob);
  EXPECT_GE(r.top[0][1].prob, r.top[0][2].prob);
}

TEST(Generate, PromptLongerThanTheContextThrows) {
  auto& rt = tiny_kjv();
  Session s(*rt.model, {.n_ctx = 4});
  const std::vector<int32_t> prompt(5, 278);
  EXPECT_THROW(generate(s, *rt.tokenizer, prompt, greedy(1)), ContextError);
}

// PPL over two windows of 16 equals exp(mean NLL) of positions 8..14 of each
// window, BOS in front, computed here from plain evaluations.
TEST(Perplexity, MatchesTheDefinitionOnTwoWindows) {
  auto& rt = tiny_kjv();
  const auto tokens = rt.encode_prompt(
      "In the beginning God created the heaven and the earth. And the earth was without form, "
      "and void; and darkness was upon the face of the deep.");
  ASSERT_GE(tokens.size(), 32u);
  const auto r = perplexity(*rt.model, tokens, 1, 16);
  ASSERT_EQ(r.windows.size(), tokens.size() / 16);
  double nll = 0;
  int64_t n = 0;
  for (size_t w = 0; w < r.windows.size(); ++w) {
    std::vector<int32_t> win(tokens.begin() + w * 16, tokens.begin() + (w + 1) * 16);
    win[0] = 1;
    Session s(*rt.model, {.n_ctx = 16});
    for (int j = 0; j < 15; ++j) {
      const auto logits = s.eval(std::span(&win[j], 1));
      if (j < 8) continue;
      double mx = -1e30, sum = 0;
      for (float l : logits) mx = std::max<double>(mx, l);
      for (float l : logits) sum += std::exp(l - mx);
      nll += std::log(sum) - (logits[win[j + 1]] - mx);
      ++n;
    }
  }
  EXPECT_EQ(r.n_scored, n);
  EXPECT_NEAR(r.ppl, std::exp(nll / n), 1e-3 * r.ppl);
  EXPECT_THROW(perplexity(*rt.model, std::span(tokens).first(20), 1, 16), std::invalid_argument);
}

}  // namespace
}  // namespace hearth::engine
