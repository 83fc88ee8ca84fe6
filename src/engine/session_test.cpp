// The forward pass against llama.cpp's greedy goldens on the bundled model (f16),
// fed the golden prompt token ids so that it does not depend on the tokenizer.
#include "engine/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "engine/tiny_kjv_test.h"
#include "kernels/cpu_backend.h"

namespace hearth::engine {
namespace {

using test::argmax;

std::vector<double> softmax(std::span<const float> v) {
  const float m = *std::max_element(v.begin(), v.end());
  std::vector<double> p(v.size());
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += p[i] = std::exp(static_cast<double>(v[i] - m));
  for (auto& x : p) x /= s;
  return p;
}

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = kernels::make_cpu_backend(std::nullopt).release();
    model_ = model::Model::load(test::kTinyKjvPath, *backend_).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete backend_;
  }
  static backend::Backend* backend_;
  static model::Model* model_;
};
backend::Backend* SessionTest::backend_ = nullptr;
model::Model* SessionTest::model_ = nullptr;

TEST_F(SessionTest, GreedyTokensAndTop5MatchLlamaCppF16) {
  const auto cases = test::greedy_golden()["f16"];
  // One prompt (33 tokens, batched) keeps the unit test quick; tests/cli/run_test.cpp
  // runs them all, for every type.
  for (size_t c : {size_t{4}}) {
    const auto& g = cases[c];
    Session s(*model_, {.n_ctx = 256, .n_batch = 16});
    const auto prompt = g["prompt_tokens"].get<std::vector<int32_t>>();
    const auto want = g["tokens"].get<std::vector<int32_t>>();
    auto logits = s.eval(prompt);
    for (size_t i = 0; i < want.size(); ++i) {
      const auto p = softmax(logits);
      for (const auto& pair : g["top5"][i]) {
        const double want_p = pair[1].get<double>();
        EXPECT_NEAR(p[pair[0].get<size_t>()], want_p, 0.01) << "prompt " << c << " position " << i;
      }
      const int32_t tok = argmax(logits);
      ASSERT_EQ(tok, want[i]) << "prompt " << c << " position " << i;
      logits = s.eval(std::span(&tok, 1));
    }
  }
}

TEST_F(SessionTest, BatchedPromptEqualsTokenByToken) {
  const std::vector<int32_t> prompt = {1, 512, 278, 6763, 29892, 322, 278, 1734, 310};
  Session batched(*model_, {.n_ctx = 32, .all_logits = true});
  std::vector<float> all;
  batched.eval_all(prompt, 0, all);
  Session single(*model_, {.n_ctx = 32});
  const int64_t V = model_->hparams().n_vocab;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const auto l = single.eval(std::span(&prompt[i], 1));
    for (int64_t j = 0; j < V; j += 97) ASSERT_NEAR(l[j], all[i * V + j], 1e-3) << i;
  }
}

TEST_F(SessionTest, PrefixCacheReusesAndMatchesFreshEvaluation) {
  const std::vector<int32_t> a = {1, 512, 278, 6763, 29892};
  const std::vector<int32_t> b = {1, 512, 278, 1734, 310, 278};
  Session s(*model_, {.n_ctx = 32});
  s.eval(a);
  const auto got = s.eval_prefix_cached(b);
  std::vector<float> reused(got.begin(), got.end());
  Session fresh(*model_, {.n_ctx = 32});
  const auto want = fresh.eval(b);
  EXPECT_EQ(s.tokens(), b);
  for (size_t j = 0; j < want.size(); j += 31) ASSERT_NEAR(reused[j], want[j], 1e-4);
}

TEST_F(SessionTest, SequenceLongerThanContextIsAnError) {
  Session s(*model_, {.n_ctx = 8});
  const std::vector<int32_t> prompt(9, 278);
  EXPECT_THROW(s.eval(prompt), ContextError);
  EXPECT_EQ(s.n_past(), 0);
  s.eval(std::span(prompt).first(8));
  EXPECT_THROW(s.eval(std::span(prompt).first(1)), ContextError);
}

TEST_F(SessionTest, MissingModelFileIsAClearError) {
  auto backend = kernels::make_cpu_backend(1);
  try {
    model::Model::load("/nonexistent/x.gguf", *backend);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace hearth::engine
