// Embeddings on the bundled model: shape, unit norm, determinism, pooling
// against the hidden states computed one token at a time, passes of 512.
#include "engine/embed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <future>
#include <numeric>

#include "engine/session.h"
#include "engine/tiny_kjv_test.h"

namespace hearth::engine {
namespace {

using test::tiny_kjv;

double dot(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::vector<float> embed_text(const std::string& text, Pooling p = Pooling::Mean) {
  return embed(tiny_kjv(), tokenize_for_embedding(tiny_kjv(), text), p);
}

// Every token's final hidden state, each from its own forward pass of one token.
std::vector<std::vector<float>> hidden_one_by_one(std::span<const int32_t> tokens) {
  const auto& m = *tiny_kjv().model;
  const int64_t E = m.hparams().n_embd, n = static_cast<int64_t>(tokens.size());
  auto cache = m.make_kv_cache(n, backend::KvType::F16);
  auto scratch = m.make_scratch(1, 0);
  std::vector<std::vector<float>> out;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> h(static_cast<size_t>(E));
    const model::SeqChunk c{
        .tokens = &tokens[i], .n_tokens = 1, .pos0 = i, .cache = cache.get(), .hidden = h.data()};
    m.forward_batch(std::span(&c, 1), *scratch);
    out.push_back(std::move(h));
  }
  return out;
}

void expect_close(std::span<const float> got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-4) << what << " " << i;
}

std::vector<double> normalized(std::vector<double> v) {
  double s = 0;
  for (double x : v) s += x * x;
  for (double& x : v) x /= std::sqrt(s);
  return v;
}

TEST(Embed, TheModelPoolsByMean) {
  // tiny-kjv has no llama.pooling_type: a decoder model, mean-pooled.
  EXPECT_EQ(model_pooling(*tiny_kjv().model), Pooling::Mean);
}

TEST(Embed, UnitNormOfNEmbdValuesAndDeterministic) {
  const auto a = embed_text("In the beginning God created the heaven and the earth.");
  ASSERT_EQ(static_cast<int64_t>(a.size()), tiny_kjv().model->hparams().n_embd);
  for (float x : a) ASSERT_TRUE(std::isfinite(x));
  EXPECT_NEAR(dot(a, a), 1.0, 1e-5);
  const auto again = embed_text("In the beginning God created the heaven and the earth.");
  EXPECT_EQ(0, std::memcmp(a.data(), again.data(), a.size() * sizeof(float)));
  const auto b = embed_text("And the LORD said unto Moses,");
  EXPECT_NE(a, b);
  EXPECT_LT(dot(a, b), 0.9999);
}

TEST(Embed, SimilarVersesAreCloserThanUnrelatedText) {
  const auto shepherd = embed_text("The LORD is my shepherd; I shall not want.");
  const auto shepherd2 = embed_text("The LORD is my shepherd, I shall not want");
  const auto verse = embed_text("In the beginning God created the heaven and the earth.");
  const auto other = embed_text("0x7f3a 9981 %% zzqv ###");
  // On tiny-kjv: 0.97 against 0.47 and 0.23.
  EXPECT_GT(dot(shepherd, shepherd2), 0.9);
  EXPECT_LT(dot(shepherd, verse), 0.7);
  EXPECT_LT(dot(shepherd, other), 0.5);
}

TEST(Embed, PoolingMatchesTheHiddenStatesOneTokenAtATime) {
  const auto tokens = tokenize_for_embedding(tiny_kjv(), "Blessed are the meek: for they shall");
  ASSERT_GE(tokens.size(), 5u);
  const auto h = hidden_one_by_one(tokens);
  const size_t E = h[0].size();
  std::vector<double> mean(E, 0.0);
  for (const auto& row : h)
    for (size_t i = 0; i < E; ++i) mean[i] += row[i] / static_cast<double>(h.size());
  expect_close(embed(tiny_kjv(), tokens, Pooling::Mean), normalized(mean), "mean");
  expect_close(embed(tiny_kjv(), tokens, Pooling::Cls),
               normalized(std::vector<double>(h.front().begin(), h.front().end())), "cls");
  expect_close(embed(tiny_kjv(), tokens, Pooling::Last),
               normalized(std::vector<double>(h.back().begin(), h.back().end())), "last");
}

TEST(Embed, InputsLongerThanOnePassAreEvaluatedInPassesOf512) {
  // 600 tokens: a pass of 512 then one of 88, against one pass of all 600.
  const auto& m = *tiny_kjv().model;
  const int64_t E = m.hparams().n_embd, n = 600;
  std::vector<int32_t> tokens = {1};
  while (static_cast<int64_t>(tokens.size()) < n)
    tokens.push_back(static_cast<int32_t>(100 + tokens.size() * 37 % 9000));
  std::vector<float> h(static_cast<size_t>(n * E));
  auto cache = m.make_kv_cache(n, backend::KvType::F16);
  auto scratch = m.make_scratch(n, 0);
  const model::SeqChunk c{
      .tokens = tokens.data(), .n_tokens = n, .pos0 = 0, .cache = cache.get(), .hidden = h.data()};
  m.forward_batch(std::span(&c, 1), *scratch);
  std::vector<double> mean(static_cast<size_t>(E), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < E; ++i) mean[i] += h[t * E + i] / static_cast<double>(n);
  expect_close(embed(tiny_kjv(), tokens, Pooling::Mean), normalized(mean), "mean of 600");
  expect_close(embed(tiny_kjv(), tokens, Pooling::Last),
               normalized(std::vector<double>(h.end() - E, h.end())), "last of 600");
}

TEST(Embed, ConcurrentCallsGetTheAloneAnswer) {
  const auto tokens = tokenize_for_embedding(tiny_kjv(), "Jesus wept.");
  const auto alone = embed(tiny_kjv(), tokens, Pooling::Mean);
  std::vector<std::future<std::vector<float>>> fs;
  for (int i = 0; i < 4; ++i)
    fs.push_back(
        std::async(std::launch::async, [&] { return embed(tiny_kjv(), tokens, Pooling::Mean); }));
  for (auto& f : fs) EXPECT_EQ(f.get(), alone);
}

TEST(Embed, TokenizesAsAPromptWithoutParsingSpecialTokens) {
  const auto t = tokenize_for_embedding(tiny_kjv(), "<s>Amen");
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t[0], 1);                               // BOS
  EXPECT_EQ(std::count(t.begin(), t.end(), 1), 1);  // "<s>" in the text stays text
}

TEST(Embed, FitsTheContextOrRefuses) {
  std::vector<int32_t> t(10);
  std::iota(t.begin(), t.end(), 1);
  auto kept = t;
  fit_embedding_input(kept, 10, false);
  EXPECT_EQ(kept, t);
  fit_embedding_input(kept, 4, true);
  EXPECT_EQ(kept, std::vector<int32_t>({1, 2, 3, 4}));
  try {
    fit_embedding_input(t, 4, false);
    FAIL() << "no error";
  } catch (const ContextError& e) {
    EXPECT_NE(std::string(e.what()).find("the input length exceeds the context length"),
              std::string::npos);
  }
}

TEST(Embed, RefusesNoTokensAndIdsOutsideTheVocabulary) {
  EXPECT_THROW(embed(tiny_kjv(), {}, Pooling::Mean), std::invalid_argument);
  const std::vector<int32_t> bad = {1, 32000};
  EXPECT_THROW(embed(tiny_kjv(), bad, Pooling::Mean), std::invalid_argument);
}

TEST(Embed, L2NormalizeLeavesZeroAlone) {
  std::vector<float> z(4, 0.f), v = {3.f, 4.f};
  l2_normalize(z);
  EXPECT_EQ(z, std::vector<float>(4, 0.f));
  l2_normalize(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
}

}  // namespace
}  // namespace hearth::engine
