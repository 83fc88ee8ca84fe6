// The whole chain: greedy, determinism, stage order, distribution.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace hearth::sampling {
namespace {

SamplerParams plain(uint64_t seed) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  return p;
}

TEST(Sampler, DefaultsAreOllamas) {
  SamplerParams p;
  EXPECT_FLOAT_EQ(p.temperature, 0.8f);
  EXPECT_EQ(p.top_k, 40);
  EXPECT_FLOAT_EQ(p.top_p, 0.9f);
  EXPECT_FLOAT_EQ(p.min_p, 0.0f);
  EXPECT_FLOAT_EQ(p.repeat_penalty, 1.0f);
  EXPECT_EQ(p.repeat_last_n, 64);
  EXPECT_EQ(p.seed, SamplerParams::kRandomSeed);
}

TEST(Sampler, GreedyTakesTheLowestIdAmongTies) {
  SamplerParams p = plain(1);
  p.temperature = 0.0f;
  Sampler s(p);
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.sample(logits), 1);
  p.temperature = -1.0f;
  Sampler neg(p);
  std::vector<float> l2 = {0.0f, 0.1f, 0.3f};
  EXPECT_EQ(neg.sample(l2), 2);
}

TEST(Sampler, GreedyAppliesPenaltiesFirst) {
  SamplerParams p = plain(1);
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.accept(0);
  std::vector<float> logits = {3.0f, 2.0f};  // 3 / 2 = 1.5 < 2
  EXPECT_EQ(s.sample(logits), 1);
  EXPECT_FLOAT_EQ(logits[0], 1.5f);  // penalties are applied in place
}

TEST(Sampler, RepeatWindowForgetsOldTokens) {
  SamplerParams p = plain(1);
  p.temperature = 0.0f;
  p.repeat_penalty = 10.0f;
  p.repeat_last_n = 2;
  Sampler s(p);
  s.accept(0);  // pushed out of the window by the next two
  s.accept(2);
  s.accept(2);
  std::vector<float> logits = {1.0f, 0.9f, 5.0f};
  EXPECT_EQ(s.sample(logits), 0);
  s.reset();  // history gone
  std::vector<float> again = {1.0f, 0.9f, 5.0f};
  EXPECT_EQ(s.sample(again), 2);
}

std::vector<int32_t> run(Sampler& s, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits = {1.0f, 0.5f, 0.2f, 0.0f, -0.3f, 0.9f};
    out.push_back(s.sample(logits));
    s.accept(out.back());
  }
  return out;
}

TEST(Sampler, SameSeedSameSequence) {
  SamplerParams p;  // the defaults, penalties included
  p.seed = 1234;
  Sampler a(p), b(p);
  const auto seq = run(a, 200);
  EXPECT_EQ(seq, run(b, 200));
  a.reset();
  EXPECT_EQ(seq, run(a, 200));  // reset restarts from the seed
  p.seed = 1235;
  Sampler c(p);
  EXPECT_NE(seq, run(c, 200));
}

TEST(Sampler, FrequenciesMatchSoftmaxAtTemperature) {
  // Temperature 0.5 over logits {1, 0.5, 0}: softmax of {2, 1, 0}.
  SamplerParams p = plain(99);
  p.temperature = 0.5f;
  Sampler s(p);
  const double z = std::exp(2.0) + std::exp(1.0) + 1.0;
  const double expected[3] = {std::exp(2.0) / z, std::exp(1.0) / z, 1.0 / z};
  std::vector<int> counts(3);
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits = {1.0f, 0.5f, 0.0f};
    ++counts[static_cast<size_t>(s.sample(logits))];
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(counts[i] / double(n), expected[i], 0.015) << i;
}

TEST(Sampler, TopKThenTopPThenMinP) {
  // Probabilities after top_k = 3 of {ln 4, ln 2, ln 1, ln 1}: 4/7, 2/7, 1/7.
  // top_p 0.8: 4/7 = 0.571 < 0.8 <= 6/7, keeps two; renormalized 2/3, 1/3.
  SamplerParams p = plain(5);
  p.top_k = 3;
  p.top_p = 0.8f;
  Sampler s(p);
  std::vector<int> counts(4);
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits = {std::log(1.0f), std::log(4.0f), std::log(1.0f), std::log(2.0f)};
    ++counts[static_cast<size_t>(s.sample(logits))];
  }
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_NEAR(counts[1] / double(n), 2.0 / 3, 0.015);
  // min_p 0.6 then leaves only the best.
  p.min_p = 0.6f;
  Sampler m(p);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> logits = {std::log(1.0f), std::log(4.0f), std::log(1.0f), std::log(2.0f)};
    ASSERT_EQ(m.sample(logits), 1);
  }
}

TEST(Sampler, RefusesEmptyLogits) {
  Sampler s(plain(1));
  std::vector<float> none;
  EXPECT_THROW(s.sample(none), std::invalid_argument);
}

}  // namespace
}  // namespace hearth::sampling
