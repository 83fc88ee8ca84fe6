// The one prompt policy (engine/prompt.h) on the bundled model: markup parsed,
// what users typed kept as text, BOS once, old turns giving way.
#include "engine/prompt.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/session.h"
#include "engine/tiny_kjv_test.h"

namespace hearth::engine {
namespace {

Runtime& runtime() { return test::tiny_kjv(); }

int count(const std::vector<int32_t>& ids, int32_t id) {
  return static_cast<int>(std::count(ids.begin(), ids.end(), id));
}

TEST(Prompt, WhatUsersTypeIsTextNotSpecialTokens) {
  auto& rt = runtime();
  const int32_t bos = rt.tokenizer->bos(), eos = rt.tokenizer->eos();
  PromptSpec spec;
  spec.chat = true;
  spec.messages = {{"user", "say </s> and <s> please"}};
  const auto p = build_prompt(rt, spec, {256, 16, true});
  EXPECT_EQ(p.tokens[0], bos);
  EXPECT_EQ(count(p.tokens, bos), 1);  // only the template's own
  EXPECT_EQ(count(p.tokens, eos), 0);
  // The same text without the markup-like words tokenizes as plain text there.
  const auto plain = rt.tokenizer->encode("</s>", false, false);
  EXPECT_TRUE(std::search(p.tokens.begin(), p.tokens.end(), plain.begin() + 1, plain.end()) !=
              p.tokens.end());
}

TEST(Prompt, TheTemplatesOwnMarkupIsParsed) {
  auto& rt = runtime();
  PromptSpec spec;
  spec.chat = true;
  // A conversation with an assistant turn: the Llama-2 template closes it with </s>.
  spec.messages = {{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Again"}};
  const auto p = build_prompt(rt, spec, {256, 16, true});
  EXPECT_EQ(count(p.tokens, rt.tokenizer->eos()), 1);
  EXPECT_EQ(count(p.tokens, rt.tokenizer->bos()), 2);  // one per exchange, as the template writes
}

TEST(Prompt, RawPromptsAreContinuedAsIs) {
  auto& rt = runtime();
  PromptSpec spec;
  spec.raw = true;
  spec.prompt = "In the beginning";
  EXPECT_EQ(build_prompt(rt, spec, {256, 16, true}).tokens,
            (std::vector<int32_t>{1, 512, 278, 6763}));
}

TEST(Prompt, OldestTurnsGiveWayButNotTheSystemMessage) {
  auto& rt = runtime();
  PromptSpec spec;
  spec.chat = true;
  spec.system = "You are the preacher.";
  for (int i = 0; i < 20; ++i) {
    spec.messages.push_back(
        {"user", "And it came to pass in those days, number " + std::to_string(i)});
    spec.messages.push_back({"assistant", "And the LORD spake unto Moses, saying"});
  }
  spec.messages.push_back({"user", "What then?"});
  const auto p = build_prompt(rt, spec, {256, 32, true});
  EXPECT_GT(p.dropped_messages, 0);
  EXPECT_LE(static_cast<int64_t>(p.tokens.size()), 256 - 32);
  const std::string text = rt.tokenizer->decode(p.tokens);
  EXPECT_NE(text.find("You are the preacher."), std::string::npos);
  EXPECT_NE(text.find("What then?"), std::string::npos);
  EXPECT_EQ(text.find("number 0"), std::string::npos);
  // Without truncation the same conversation is refused with the numbers.
  EXPECT_THROW(build_prompt(rt, spec, {256, 32, false}), ContextError);
}

TEST(Prompt, AChatMessageLongerThanTheContextIsRefused) {
  auto& rt = runtime();
  PromptSpec spec;
  spec.chat = true;
  std::string lots;
  for (int i = 0; i < 200; ++i) lots += "and the LORD said ";
  spec.messages = {{"user", lots}};
  EXPECT_THROW(build_prompt(rt, spec, {256, 16, true}), ContextError);
}

TEST(Prompt, ARawPromptLongerThanTheContextKeepsItsEndWhenAllowed) {
  auto& rt = runtime();
  PromptSpec spec;
  spec.raw = true;
  for (int i = 0; i < 200; ++i) spec.prompt += "and the LORD said ";
  const auto p = build_prompt(rt, spec, {256, 16, true});
  EXPECT_TRUE(p.truncated);
  EXPECT_EQ(p.tokens[0], rt.tokenizer->bos());
  EXPECT_LT(static_cast<int64_t>(p.tokens.size()), 256);
  EXPECT_THROW(build_prompt(rt, spec, {256, 16, false}), ContextError);
}

}  // namespace
}  // namespace hearth::engine
