// read_arch_facts (any architecture, unvalidated), read_hparams (validated) and
// estimate_memory on hand-made files.
#include "model/hparams.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "gguf/writer.h"
#include "model/memory.h"

namespace hearth::model {
namespace {

std::unique_ptr<gguf::GgufFile> parse(const gguf::GgufWriter& w, const std::string& name) {
  static std::vector<std::vector<uint8_t>> keep;  // the parsed file views these bytes
  keep.push_back(w.to_bytes());
  return gguf::GgufFile::parse(keep.back(), name);
}

TEST(ArchFacts, ReadsAnyArchitectureWithFallbacks) {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "phi3");  // not one hearth runs
  w.set_u32("phi3.context_length", 4096);
  w.set_u32("phi3.embedding_length", 512);
  w.set_u32("phi3.feed_forward_length", 1024);
  w.set_u32("phi3.attention.head_count", 8);  // no head_count_kv: as many as heads
  w.set("tokenizer.ggml.tokens", gguf::Value::of_strings({"a", "b", "c"}));  // no vocab_size
  std::vector<uint8_t> q(2 * 18);
  w.add_tensor("blk.0.attn_q.weight", gguf::TensorType::Q4_0, {32, 2}, q);
  w.add_tensor("blk.2.attn_q.weight", gguf::TensorType::Q4_0, {32, 2}, q);  // no block_count
  const auto f = parse(w, "phi.gguf");
  const ArchFacts a = read_arch_facts(*f);
  EXPECT_EQ(a.arch, "phi3");
  EXPECT_EQ(a.n_ctx_train, 4096);
  EXPECT_EQ(a.n_layer, 3);  // 1 + the highest blk.N
  EXPECT_EQ(a.n_head_kv, 8);
  EXPECT_EQ(a.head_dim, 64);
  EXPECT_EQ(a.n_vocab, 3);
  EXPECT_EQ(a.rope_freq_base, 0.0);  // silent: 0, not a default
  const quant::ModelShape m = mix_shape(a);
  EXPECT_EQ(m.arch, "phi3");
  EXPECT_EQ(m.n_layer, 3);
  EXPECT_EQ(m.n_head_kv, 8);
  // The model refuses what it cannot run, naming the architecture.
  try {
    read_hparams(*f);
    FAIL() << "phi3 accepted";
  } catch (const gguf::GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("phi3"), std::string::npos) << e.what();
  }
}

gguf::GgufWriter qwen2_header() {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "qwen2");
  w.set_u32("qwen2.embedding_length", 256);
  w.set_u32("qwen2.block_count", 3);
  w.set_u32("qwen2.feed_forward_length", 768);
  w.set_u32("qwen2.attention.head_count", 8);
  w.set_u32("qwen2.attention.head_count_kv", 2);
  w.set_u32("qwen2.vocab_size", 1000);
  return w;
}

TEST(Hparams, AppliesDefaultsWhereTheFileIsSilent) {
  const auto f = parse(qwen2_header(), "qwen.gguf");
  const Hparams h = read_hparams(*f);
  EXPECT_EQ(h.arch, Arch::Qwen2);
  EXPECT_EQ(h.n_ctx_train, 2048);
  EXPECT_EQ(h.head_dim, 32);
  EXPECT_EQ(h.rope.freq_base, 10000.0f);
  EXPECT_EQ(h.rope.mode, backend::RopeMode::Neox);
  EXPECT_EQ(h.rope.n_rot, 32);
  EXPECT_EQ(h.kv_dim(), 64);
}

TEST(Hparams, NamesAMissingKey) {
  gguf::GgufWriter w = qwen2_header();
  w.remove("qwen2.block_count");
  const auto f = parse(w, "qwen.gguf");
  try {
    read_hparams(*f);
    FAIL() << "accepted without block_count";
  } catch (const gguf::GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("missing metadata key 'qwen2.block_count'"),
              std::string::npos)
        << e.what();
  }
}

// Values no real model holds are the file's error, before anything is
// allocated from them (a block_count of 2^31 was std::bad_alloc).
TEST(Hparams, RefusesValuesNoModelHolds) {
  auto error_of = [](gguf::GgufWriter w) {
    const auto f = parse(w, "qwen.gguf");
    try {
      read_hparams(*f);
    } catch (const gguf::GgufError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  gguf::GgufWriter w = qwen2_header();
  w.set_u32("qwen2.block_count", 2147483647u);
  EXPECT_NE(error_of(w).find("'qwen2.block_count' is 2147483647, more than 4096"),
            std::string::npos);
  for (const float base : {0.0f, -1.0f, std::nanf(""), INFINITY}) {
    w = qwen2_header();
    w.set_f32("qwen2.rope.freq_base", base);
    EXPECT_NE(error_of(w).find("'qwen2.rope.freq_base' is"), std::string::npos) << base;
  }
  for (const float eps : {0.0f, 1e30f, std::nanf("")}) {
    w = qwen2_header();
    w.set_f32("qwen2.attention.layer_norm_rms_epsilon", eps);
    EXPECT_NE(error_of(w).find("layer_norm_rms_epsilon' is"), std::string::npos) << eps;
  }
  EXPECT_EQ(error_of(qwen2_header()), "");
}

TEST(Memory, CountsKvCachePerSequenceAndType) {
  const auto f = parse(qwen2_header(), "qwen.gguf");
  const Hparams h = read_hparams(*f);
  const MemoryEstimate e = estimate_memory(h, 1000, 1024, 1, 512, backend::KvType::F16);
  EXPECT_EQ(e.weights, 1000u);
  EXPECT_EQ(e.kv_cache, 2u * 3 * 1024 * 64 * 2);  // K and V, f16
  // per token: 2*256 + 256 + 2*64 + 256 + 8*1024 + 3*768 + 1000 = 12648 floats
  EXPECT_EQ(e.compute, 4u * 512 * 12648);
  EXPECT_EQ(e.total(), e.weights + e.kv_cache + e.compute);
  // Four sequences: four KV caches, one copy of the weights, the same step.
  const MemoryEstimate four = estimate_memory(h, 1000, 1024, 4, 512, backend::KvType::F16);
  EXPECT_EQ(four.kv_cache, 4 * e.kv_cache);
  EXPECT_EQ(four.weights, e.weights);
  EXPECT_EQ(four.compute, e.compute);
  // q8_0: 34 bytes per 32 values.
  const MemoryEstimate q8 = estimate_memory(h, 1000, 1024, 1, 512, backend::KvType::Q8_0);
  EXPECT_EQ(q8.kv_cache, 2u * 3 * 1024 * (64 / 32 * 34));
  EXPECT_THROW(estimate_memory(h, 1000, 0, 1, 512, backend::KvType::F16), std::invalid_argument);
}

}  // namespace
}  // namespace hearth::model
