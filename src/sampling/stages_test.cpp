// Each stage of the chain against expectations worked out by hand.
#include "sampling/stages.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hearth::sampling {
namespace {

std::vector<int32_t> ids(const std::vector<Candidate>& c) {
  std::vector<int32_t> out;
  for (const Candidate& x : c) out.push_back(x.id);
  return out;
}

TEST(Stages, PenaltiesFollowLlamaCpp) {
  // History: token 0 once, token 1 twice; token 3 out of range is ignored.
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  const std::vector<int32_t> window = {0, 1, 1, 7, -2};
  apply_penalties(logits, window, 2.0f, 0.25f, 0.5f);
  EXPECT_FLOAT_EQ(logits[0], 2.0f / 2 - (1 * 0.25f + 0.5f));   // positive: divided
  EXPECT_FLOAT_EQ(logits[1], -1.0f * 2 - (2 * 0.25f + 0.5f));  // negative: multiplied
  EXPECT_FLOAT_EQ(logits[2], 0.5f);
  EXPECT_FLOAT_EQ(logits[3], 3.0f);
}

TEST(Stages, SortsByLogitThenId) {
  const std::vector<float> logits = {1.0f, 3.0f, NAN, 3.0f, -2.0f};
  EXPECT_EQ(ids(sorted_candidates(logits)), (std::vector<int32_t>{1, 3, 0, 4}));
}

TEST(Stages, SoftmaxOfHandValues) {
  std::vector<Candidate> c = {{0, std::log(3.0f)}, {1, std::log(1.0f)}};
  const auto p = softmax(c);
  EXPECT_NEAR(p[0], 0.75f, 1e-6);
  EXPECT_NEAR(p[1], 0.25f, 1e-6);
}

TEST(Stages, TopKKeepsTheBest) {
  auto c = sorted_candidates(std::vector<float>{0.1f, 2.0f, 1.0f, 3.0f});
  top_k(c, 2);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{3, 1}));
  top_k(c, 0);  // off
  EXPECT_EQ(c.size(), 2u);
  top_k(c, 10);
  EXPECT_EQ(c.size(), 2u);
}

// Probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs).
std::vector<Candidate> halves() {
  return sorted_candidates(
      std::vector<float>{std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
}

TEST(Stages, TopPKeepsTheSmallestPrefixWithTheMass) {
  auto c = halves();
  top_p(c, 0.7f);  // 0.5 < 0.7 <= 0.75
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  c = halves();
  top_p(c, 0.75f);  // reaching the mass exactly is enough
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  c = halves();
  top_p(c, 0.1f);  // never fewer than one
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1}));
  c = halves();
  top_p(c, 1.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(Stages, MinPCutsRelativeToTheBest) {
  auto c = halves();
  min_p(c, 0.3f);  // keeps p >= 0.15: 0.5 and 0.25
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  c = halves();
  min_p(c, 0.25f);  // keeps p >= 0.125: all four
  EXPECT_EQ(c.size(), 4u);
  c = halves();
  min_p(c, 0.6f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1}));
}

TEST(Stages, TypicalKeepsTokensNearTheEntropy) {
  // p = 0.5, 0.25, 0.125, 0.125: entropy H = 1.75 bits = 1.213 nats.
  // |-ln p - H|: 0.52, 0.17, 0.87, 0.87 -> order 3 (0.25), 1 (0.5), then the 0.125s.
  auto c = halves();
  typical(c, 0.5f);  // 0.25 (not > 0.5), +0.5 = 0.75 > 0.5: keep two
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  c = halves();
  typical(c, 0.2f);  // 0.25 > 0.2: only the most typical token, which is not the likeliest
  EXPECT_EQ(ids(c), (std::vector<int32_t>{3}));
  c = halves();
  typical(c, 1.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(Stages, TemperatureDividesLogits) {
  std::vector<Candidate> c = {{0, 2.0f}, {1, -1.0f}};
  temperature(c, 0.5f);
  EXPECT_FLOAT_EQ(c[0].logit, 4.0f);
  EXPECT_FLOAT_EQ(c[1].logit, -2.0f);
}

TEST(Stages, DrawFollowsTheProbabilities) {
  auto c = halves();
  std::mt19937_64 rng(1);
  std::vector<int> counts(4);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(draw(c, rng))];
  EXPECT_NEAR(counts[1] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[3] / double(n), 0.25, 0.015);
  EXPECT_NEAR(counts[0] / double(n), 0.125, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.125, 0.015);
}

}  // namespace
}  // namespace hearth::sampling
