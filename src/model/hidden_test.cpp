// SeqChunk::hidden: the final hidden states (after the output norm) of every
// token of a chunk, bitwise the same alone and batched, leaving the logits of
// the same pass untouched, and the logits' input: output weights x the last
// hidden state give the logits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_backend.h"
#include "model/model.h"
#include "model/tiny_test_model.h"

namespace hearth::model {
namespace {

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % n_vocab);
  return t;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Three sequences in one pass -- A wants hidden states and logits, B hidden
// states only, C logits only -- against each alone and against a pass with no
// hidden states at all.
void expect_hidden_alone_equals_batched(const Model& m, const std::string& what) {
  const int64_t E = m.hparams().n_embd, V = m.hparams().n_vocab;
  const auto a = random_tokens(9, V, 1), b = random_tokens(70, V, 2), c = random_tokens(5, V, 3);
  auto scratch = m.make_scratch(128, 4);
  auto cache = [&] { return m.make_kv_cache(128, backend::KvType::F16); };

  std::vector<float> a_hidden(a.size() * E), a_logits(2 * V), b_hidden(b.size() * E), c_logits(V);
  {
    auto ca = cache(), cb = cache(), cc = cache();
    const SeqChunk alone_a{a.data(), 9, 0, ca.get(), a_logits.data(), 2, a_hidden.data()};
    const SeqChunk alone_b{b.data(), 70, 0, cb.get(), nullptr, 1, b_hidden.data()};
    const SeqChunk alone_c{c.data(), 5, 0, cc.get(), c_logits.data(), 1};
    m.forward_batch(std::span(&alone_a, 1), *scratch);
    m.forward_batch(std::span(&alone_b, 1), *scratch);
    m.forward_batch(std::span(&alone_c, 1), *scratch);
  }
  for (const float x : a_hidden) ASSERT_TRUE(std::isfinite(x)) << what;
  for (const float x : b_hidden) ASSERT_TRUE(std::isfinite(x)) << what;

  std::vector<float> ah(a_hidden.size(), -1), al(a_logits.size(), -1), bh(b_hidden.size(), -1),
      cl(c_logits.size(), -1);
  {
    auto ca = cache(), cb = cache(), cc = cache();
    const std::vector<SeqChunk> chunks = {
        {c.data(), 5, 0, cc.get(), cl.data(), 1},
        {a.data(), 9, 0, ca.get(), al.data(), 2, ah.data()},
        {b.data(), 70, 0, cb.get(), nullptr, 1, bh.data()},
    };
    m.forward_batch(chunks, *scratch);
  }
  EXPECT_TRUE(same_bits(a_hidden, ah)) << what << ": A's hidden states";
  EXPECT_TRUE(same_bits(b_hidden, bh)) << what << ": B's hidden states";
  EXPECT_TRUE(same_bits(a_logits, al)) << what << ": A's logits";
  EXPECT_TRUE(same_bits(c_logits, cl)) << what << ": C's logits";

  // Asking for hidden states changes no logits.
  std::vector<float> plain(a_logits.size(), -1);
  auto ca = cache();
  m.forward(a.data(), 9, 0, *ca, *scratch, 7, plain.data());
  EXPECT_TRUE(same_bits(a_logits, plain)) << what << ": logits without hidden states";
}

class Hidden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { backend_ = kernels::make_cpu_backend(2).release(); }
  static void TearDownTestSuite() { delete backend_; }
  static backend::Backend* backend_;
};
backend::Backend* Hidden::backend_ = nullptr;

TEST_F(Hidden, AloneEqualsBatchedF16) {
  expect_hidden_alone_equals_batched(*Model::load(test_models::kTinyKjvPath, *backend_),
                                     "tiny-kjv f16");
}

TEST_F(Hidden, AloneEqualsBatchedEveryArchitecture) {
  for (const char* arch : {"llama", "qwen2", "falcon"}) {
    const std::string path = test_models::make_tiny(arch).write();
    auto model = Model::load(path, *backend_);
    unlink(path.c_str());
    expect_hidden_alone_equals_batched(*model, arch);
  }
}

TEST_F(Hidden, OutputWeightsTimesTheLastHiddenStateGiveTheLogits) {
  for (const char* arch : {"llama", "falcon"}) {
    for (const bool tied : {false, true}) {
      const auto tiny = test_models::make_tiny(arch, tied);
      const std::string path = tiny.write();
      auto m = Model::load(path, *backend_);
      unlink(path.c_str());
      const int64_t E = m->hparams().n_embd, V = m->hparams().n_vocab;
      const auto t = random_tokens(6, V, 4);
      std::vector<float> hidden(t.size() * E), logits(V);
      auto cache = m->make_kv_cache(16, backend::KvType::F16);
      auto scratch = m->make_scratch(16, 1);
      const SeqChunk chunk{t.data(), 6, 0, cache.get(), logits.data(), 1, hidden.data()};
      m->forward_batch(std::span(&chunk, 1), *scratch);
      const auto& w = tiny.t(tied ? "token_embd.weight" : "output.weight");  // [V][E]
      const float* h = hidden.data() + 5 * E;
      for (int64_t v = 0; v < V; ++v) {
        double dot = 0;
        for (int64_t i = 0; i < E; ++i) dot += double(w[v * E + i]) * h[i];
        EXPECT_NEAR(logits[v], dot, 1e-3 * (1 + std::abs(dot)))
            << arch << (tied ? " tied" : "") << ", token " << v;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::model
