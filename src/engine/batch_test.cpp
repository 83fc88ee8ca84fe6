// BatchEvaluator: the golden prompts decoded together (all at once, or joining
// and leaving at different steps) give llama.cpp's greedy tokens, and a batched
// session's logits are bitwise those of the same session evaluated alone.
#include "engine/batch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/tiny_kjv_test.h"
#include "kernels/cpu_backend.h"
#include "model/hparams.h"
#include "quant/quantize_model.h"
#include "threads/thread_pool.h"

namespace hearth::engine {
namespace {

using test::argmax;

class BatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = kernels::make_cpu_backend(2).release();
    f16_ = model::Model::load(test::kTinyKjvPath, *backend_).release();
    q4_0_path_ = "/tmp/hearth_engine_batch_test_" + std::to_string(getpid()) + "_q4_0.gguf";
    threads::ThreadPool pool(2);
    quant::quantize_model(test::kTinyKjvPath,
                          model::mix_shape(*gguf::GgufFile::open(test::kTinyKjvPath)), q4_0_path_,
                          {.type = "q4_0"}, pool);
    q4_0_ = model::Model::load(q4_0_path_, *backend_).release();
  }
  static void TearDownTestSuite() {
    delete q4_0_;
    delete f16_;
    delete backend_;
    unlink(q4_0_path_.c_str());
  }

  // Greedy decoding of every golden prompt of `type`, sequence i joining (its
  // whole prompt in one chunk, beside the others' decode tokens) at step
  // join[i] and leaving after its golden tokens; each step one BatchEvaluator::eval.
  static void decode_golden_together(const model::Model& m, const std::string& type,
                                     const std::vector<int>& join) {
    const auto cases = test::greedy_golden()[type];
    const size_t n = cases.size();
    ASSERT_EQ(join.size(), n);
    BatchEvaluator batch(m, 128, static_cast<int64_t>(n));
    std::vector<std::unique_ptr<Session>> sessions;
    std::vector<std::vector<int32_t>> got(n), want(n);
    for (size_t i = 0; i < n; ++i) {
      sessions.push_back(std::make_unique<Session>(m, SessionOptions{.n_ctx = 256}));
      want[i] = cases[i]["tokens"].get<std::vector<int32_t>>();
    }
    std::vector<std::vector<int32_t>> prompt(n);
    for (size_t i = 0; i < n; ++i)
      prompt[i] = cases[i]["prompt_tokens"].get<std::vector<int32_t>>();
    std::vector<int32_t> next(n);
    for (int step = 0;; ++step) {
      std::vector<BatchItem> items;
      for (size_t i = 0; i < n; ++i) {
        if (step < join[i] || got[i].size() == want[i].size()) continue;
        if (step == join[i]) {
          items.push_back({sessions[i].get(), prompt[i]});
        } else {
          next[i] = argmax(sessions[i]->logits());
          got[i].push_back(next[i]);
          if (got[i].size() < want[i].size()) items.push_back({sessions[i].get(), {&next[i], 1}});
        }
      }
      if (items.empty() && step > *std::max_element(join.begin(), join.end())) break;
      batch.eval(items);
    }
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(got[i], want[i]) << type << " prompt " << i;
  }

  static backend::Backend* backend_;
  static model::Model* f16_;
  static model::Model* q4_0_;
  static std::string q4_0_path_;
};
backend::Backend* BatchTest::backend_ = nullptr;
model::Model* BatchTest::f16_ = nullptr;
model::Model* BatchTest::q4_0_ = nullptr;
std::string BatchTest::q4_0_path_;

TEST_F(BatchTest, GoldenPromptsDecodedTogetherF16) {
  decode_golden_together(*f16_, "f16", {0, 0, 0, 0, 0, 0});
}

TEST_F(BatchTest, GoldenPromptsJoiningAndLeavingF16) {
  decode_golden_together(*f16_, "f16", {0, 3, 3, 10, 30, 51});
}

TEST_F(BatchTest, GoldenPromptsDecodedTogetherQ4_0) {
  decode_golden_together(*q4_0_, "q4_0", {0, 0, 5, 5, 17, 40});
}

TEST_F(BatchTest, LogitsBitwiseEqualToSessionAlone) {
  const std::vector<int32_t> pa = {1, 512, 278, 6763}, pb = {1, 322, 278, 1734, 310, 278, 365};
  Session a(*f16_, {.n_ctx = 64}), b(*f16_, {.n_ctx = 64});
  Session a1(*f16_, {.n_ctx = 64}), b1(*f16_, {.n_ctx = 64});
  BatchEvaluator batch(*f16_, 32, 2);
  batch.eval(std::vector<BatchItem>{{&a, pa}, {&b, pb}});
  a1.eval(pa);
  b1.eval(pb);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(0, std::memcmp(a.logits().data(), a1.logits().data(), a.logits().size_bytes()));
    ASSERT_EQ(0, std::memcmp(b.logits().data(), b1.logits().data(), b.logits().size_bytes()));
    const int32_t ta = argmax(a.logits()), tb = argmax(b.logits());
    batch.eval(std::vector<BatchItem>{{&b, {&tb, 1}}, {&a, {&ta, 1}}});
    a1.eval(std::span(&ta, 1));
    b1.eval(std::span(&tb, 1));
  }
  EXPECT_EQ(a.tokens(), a1.tokens());
  EXPECT_EQ(b.n_evaluated(), b1.n_evaluated());
}

TEST_F(BatchTest, RefusedStepChangesNoSession) {
  Session a(*f16_, {.n_ctx = 8}), b(*f16_, {.n_ctx = 8});
  BatchEvaluator batch(*f16_, 16, 2);
  const std::vector<int32_t> t(9, 278);
  EXPECT_THROW(batch.eval(std::vector<BatchItem>{{&a, std::span(t).first(2)}, {&b, t}}),
               ContextError);
  EXPECT_THROW(batch.eval(std::vector<BatchItem>{{&a, std::span(t).first(1)}, {&a, t}}),
               std::invalid_argument);
  EXPECT_THROW(batch.eval(std::vector<BatchItem>{
                   {&a, std::span(t).first(8)}, {&b, std::span(t).first(8)}, {nullptr, t}}),
               std::invalid_argument);
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_EQ(b.n_past(), 0);
  BatchEvaluator small(*f16_, 4, 1);
  EXPECT_THROW(small.eval(std::vector<BatchItem>{{&a, std::span(t).first(5)}}),
               std::invalid_argument);
  EXPECT_THROW(
      small.eval(std::vector<BatchItem>{{&a, std::span(t).first(1)}, {&b, std::span(t).first(1)}}),
      std::invalid_argument);
  small.eval(
      std::vector<BatchItem>{{&a, std::span(t).first(3), false}, {&b, std::span(t).first(1)}});
  EXPECT_EQ(a.n_past(), 3);
  EXPECT_EQ(b.n_past(), 1);
}

}  // namespace
}  // namespace hearth::engine
