// describe_model() and estimate_memory() on small hand-made files.
#include "gguf/model_info.h"

#include <gtest/gtest.h>

#include "gguf/writer.h"

namespace hearth::gguf {
namespace {

TEST(ModelInfo, ReadsHyperparametersWithFallbacks) {
  GgufWriter w;
  w.set_string("general.architecture", "qwen2");
  w.set_u32("qwen2.context_length", 4096);
  w.set_u32("qwen2.embedding_length", 512);
  w.set_u32("qwen2.block_count", 3);
  w.set_u32("qwen2.feed_forward_length", 1024);
  w.set_u32("qwen2.attention.head_count", 8);  // no head_count_kv: as many as heads
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set("tokenizer.ggml.tokens", Value::of_strings({"a", "b", "c"}));  // no vocab_size key
  std::vector<uint8_t> q(2 * 18), norm(32 * 4);
  w.add_tensor("blk.0.attn_q.weight", TensorType::Q4_0, {32, 2}, q);
  w.add_tensor("blk.0.attn_norm.weight", TensorType::F32, {32}, norm);
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "qwen.gguf");
  ModelInfo m = describe_model(*f);
  EXPECT_EQ(m.architecture, "qwen2");
  EXPECT_EQ(m.head_count_kv, 8u);
  EXPECT_EQ(m.head_dim, 64u);
  EXPECT_EQ(m.vocab_size, 3u);
  EXPECT_EQ(m.n_params, 96u);
  EXPECT_EQ(m.weights_bytes, 36u + 128u);
  EXPECT_EQ(m.quantization, "F32");  // no general.file_type: the type with the most bytes
  EXPECT_EQ(m.type_counts.at("q4_0"), 1u);
  EXPECT_EQ(m.type_counts.at("f32"), 1u);
  EXPECT_FALSE(m.bos_id.has_value());
  EXPECT_FALSE(m.has_chat_template);
  EXPECT_EQ(m.tokenizer_model, "gpt2");
}

TEST(ModelInfo, EstimatesMemory) {
  ModelInfo m;
  m.weights_bytes = 1000;
  m.block_count = 2;
  m.embedding_length = 64;
  m.head_count = 4;
  m.head_count_kv = 2;
  m.head_dim = 16;
  m.feed_forward_length = 128;
  m.vocab_size = 100;
  MemoryEstimate e = estimate_memory(m, 1024);
  EXPECT_EQ(e.batch, 512u);
  EXPECT_EQ(e.weights, 1000u);
  EXPECT_EQ(e.kv_cache, 2u * 2 * 1024 * 2 * 16 * 2);
  // per token: 2*64 + 64 + 2*32 + 64 + 4*1024 + 3*128 + 100 = 4900 floats
  EXPECT_EQ(e.compute, 4u * 512 * 4900);
  EXPECT_EQ(e.total(), e.weights + e.kv_cache + e.compute);
  EXPECT_EQ(estimate_memory(m, 100).batch, 100u);
}

TEST(ModelInfo, NamesFileTypes) {
  EXPECT_EQ(file_type_name(1), "F16");
  EXPECT_EQ(file_type_name(2), "Q4_0");
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(32), "BF16");
  EXPECT_FALSE(file_type_name(4).has_value());
}

}  // namespace
}  // namespace hearth::gguf
