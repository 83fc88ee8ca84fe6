// describe_model() on small hand-made files.
#include "gguf/model_info.h"

#include <gtest/gtest.h>

#include "gguf/writer.h"

namespace hearth::gguf {
namespace {

TEST(ModelInfo, ReadsFileLevelFacts) {
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
  EXPECT_EQ(m.n_params, 96u);
  EXPECT_EQ(m.weights_bytes, 36u + 128u);
  EXPECT_EQ(m.quantization, "F32");  // no general.file_type: the type with the most bytes
  EXPECT_EQ(m.type_counts.at("q4_0"), 1u);
  EXPECT_EQ(m.type_counts.at("f32"), 1u);
  EXPECT_FALSE(m.bos_id.has_value());
  EXPECT_FALSE(m.has_chat_template);
  EXPECT_EQ(m.tokenizer_model, "gpt2");
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
