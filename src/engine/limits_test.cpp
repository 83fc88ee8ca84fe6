// engine/limits.h: the ranges of num_ctx and num_predict, and their errors.
#include "engine/limits.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::engine {
namespace {

model::Hparams llama_like(int64_t n_ctx_train) {
  model::Hparams hp;
  hp.n_ctx_train = n_ctx_train;
  hp.n_layer = 32;
  hp.n_head = 32;
  hp.n_head_kv = 8;
  hp.head_dim = 128;
  hp.n_embd = 4096;
  hp.n_vocab = 32000;
  return hp;
}

std::string error_of(auto&& f, std::string* name = nullptr) {
  try {
    f();
  } catch (const ParamError& e) {
    if (name) *name = e.name;
    return e.what();
  }
  return "";
}

TEST(Limits, NumPredict) {
  for (int64_t ok : {-2, -1, 0, 1, 1 << 30}) EXPECT_NO_THROW(validate_num_predict(ok)) << ok;
  std::string name;
  EXPECT_EQ(error_of([] { validate_num_predict(-3); }, &name),
            "num_predict must be >= -2 (-1: no limit, -2: fill the context), got -3");
  EXPECT_EQ(name, "num_predict");
}

TEST(Limits, ContextRange) {
  const model::Hparams hp = llama_like(2048);
  EXPECT_EQ(max_context(hp), 8192);
  EXPECT_NO_THROW(validate_context(hp, kMinContext));
  EXPECT_NO_THROW(validate_context(hp, 2048));
  std::string name;
  EXPECT_EQ(
      error_of([&] { validate_context(hp, 0); }, &name),
      "num_ctx must be between 16 and 8192 (4 x the model's training context of 2048), got 0");
  EXPECT_EQ(name, "num_ctx");
  EXPECT_NE(error_of([&] { validate_context(hp, -5); }), "");
  EXPECT_NE(error_of([&] { validate_context(hp, 8193); }), "");
  EXPECT_NE(error_of([&] { validate_context(hp, int64_t{1} << 62); }), "");
}

TEST(Limits, UnknownTrainingContextAndHugeOnes) {
  EXPECT_EQ(max_context(llama_like(0)), kDefaultTrainContext * kMaxContextFactor);
  EXPECT_EQ(max_context(llama_like(int64_t{1} << 40)), kMaxContext);
  EXPECT_NE(error_of([] { validate_context(llama_like(0), 1 << 20); }).find("does not say"),
            std::string::npos);
}

TEST(Limits, KvCacheBytes) {
  const model::Hparams hp = llama_like(4096);
  // 2 (K, V) x 32 layers x 4096 positions x 1024 values x 2 bytes = 512 MiB.
  EXPECT_EQ(kv_cache_bytes(hp, 4096, backend::KvType::F16), uint64_t{512} << 20);
  EXPECT_EQ(kv_cache_bytes(hp, 4096, backend::KvType::Q8_0), (uint64_t{512} << 20) / 64 * 34);
}

TEST(Limits, MoreMemoryThanTheMachineHasIsAnError) {
  const uint64_t avail = available_memory();
  if (avail == 0) GTEST_SKIP() << "available memory unknown";
  model::Hparams hp = llama_like(1 << 22);  // allows 2^24 tokens
  hp.n_layer = 1000;                        // 2^24 x 1000 x 2048 bytes: ~32 TiB
  const std::string what = error_of([&] { validate_context(hp, kMaxContext); });
  EXPECT_NE(what.find("is available"), std::string::npos) << what;
  // Extra bytes per token count too (perplexity's logits).
  const uint64_t per_token = avail / 1000 + 1;
  EXPECT_NE(
      error_of([&] { validate_context(llama_like(4096), 1000, backend::KvType::F16, per_token); }),
      "");
}

TEST(Limits, RangeOnly) {
  EXPECT_NO_THROW(validate_context_range(16));
  EXPECT_NO_THROW(validate_context_range(kMaxContext));
  EXPECT_NE(error_of([] { validate_context_range(0); }), "");
  EXPECT_NE(error_of([] { validate_context_range(kMaxContext + 1); }), "");
}

}  // namespace
}  // namespace hearth::engine
