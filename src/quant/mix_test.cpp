// Per-tensor type choice against llama.cpp's rules (llama_tensor_get_type in
// src/llama-quant.cpp) on synthetic model shapes; the golden-hash test covers
// the bundled model's real choices.
#include "quant/mix.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace hearth::quant {
namespace {

using gguf::TensorType;

// A llama-shaped model: n_layer blocks of width `dim`, FFN width `ffn`.
std::vector<TensorShape> llama_tensors(int n_layer, uint64_t dim, uint64_t ffn, bool tied) {
  std::vector<TensorShape> t = {{"token_embd.weight", TensorType::F16, 2, dim}};
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", TensorType::F32, 1, dim});
    for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"}) {
      t.push_back({p + w + ".weight", TensorType::F16, 2, dim});
    }
    t.push_back({p + "ffn_down.weight", TensorType::F16, 2, ffn});
    t.push_back({p + "ffn_norm.weight", TensorType::F32, 1, dim});
  }
  t.push_back({"output_norm.weight", TensorType::F32, 1, dim});
  if (!tied) t.push_back({"output.weight", TensorType::F16, 2, dim});
  return t;
}

std::map<std::string, TensorType> choose(const std::string& type, const ModelShape& m,
                                         const std::vector<TensorShape>& t) {
  const auto ft = find_file_type(type);
  EXPECT_TRUE(ft.has_value()) << type;
  const auto types = choose_tensor_types(*ft, m, t);
  std::map<std::string, TensorType> by_name;
  for (size_t i = 0; i < t.size(); ++i) by_name[t[i].name] = types[i];
  return by_name;
}

const ModelShape kLlama7B = {"llama", 32, 0, 32, 32};

bool more_bits(int i) { return i < 4 || i >= 28 || (i - 4) % 3 == 2; }  // n_layer = 32

TEST(Mix, Q4KMOn7BShape) {
  const auto t = llama_tensors(32, 4096, 11008, false);
  const auto got = choose("q4_k_m", kLlama7B, t);
  EXPECT_EQ(got.at("token_embd.weight"), TensorType::Q4_K);
  EXPECT_EQ(got.at("output.weight"), TensorType::Q6_K);
  EXPECT_EQ(got.at("output_norm.weight"), TensorType::F32);
  for (int i = 0; i < 32; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const TensorType wide = more_bits(i) ? TensorType::Q6_K : TensorType::Q4_K;
    EXPECT_EQ(got.at(p + "attn_v.weight"), wide) << i;
    EXPECT_EQ(got.at(p + "ffn_down.weight"), wide) << i;
    EXPECT_EQ(got.at(p + "attn_q.weight"), TensorType::Q4_K) << i;
    EXPECT_EQ(got.at(p + "ffn_up.weight"), TensorType::Q4_K) << i;
    EXPECT_EQ(got.at(p + "attn_norm.weight"), TensorType::F32) << i;
  }
  EXPECT_EQ(got.at("blk.5.attn_v.weight"), TensorType::Q4_K);
  EXPECT_EQ(got.at("blk.6.attn_v.weight"), TensorType::Q6_K);
}

TEST(Mix, Q5KMAndQ4KS) {
  const auto t = llama_tensors(32, 4096, 11008, false);
  const auto m5 = choose("Q5_K", kLlama7B, t);  // llama.cpp's alias of Q5_K_M
  EXPECT_EQ(m5.at("blk.0.attn_v.weight"), TensorType::Q6_K);
  EXPECT_EQ(m5.at("blk.4.ffn_down.weight"), TensorType::Q5_K);
  EXPECT_EQ(m5.at("blk.4.attn_k.weight"), TensorType::Q5_K);
  EXPECT_EQ(m5.at("output.weight"), TensorType::Q6_K);
  const auto s4 = choose("q4_k_s", kLlama7B, t);
  EXPECT_EQ(s4.at("blk.3.attn_v.weight"), TensorType::Q5_K);  // first 4 attn_v
  EXPECT_EQ(s4.at("blk.4.attn_v.weight"), TensorType::Q4_K);
  EXPECT_EQ(s4.at("blk.3.ffn_down.weight"), TensorType::Q5_K);  // first eighth
  EXPECT_EQ(s4.at("blk.4.ffn_down.weight"), TensorType::Q4_K);
}

TEST(Mix, LegacyTypesBumpOnlyTheOutput) {
  const auto t = llama_tensors(4, 4096, 11008, false);
  const ModelShape m = {"llama", 4, 0, 32, 32};
  const auto q40 = choose("q4_0", m, t);
  EXPECT_EQ(q40.at("output.weight"), TensorType::Q6_K);
  EXPECT_EQ(q40.at("token_embd.weight"), TensorType::Q4_0);
  EXPECT_EQ(q40.at("blk.0.attn_v.weight"), TensorType::Q4_0);
  EXPECT_EQ(q40.at("blk.0.ffn_down.weight"), TensorType::Q4_0);
  EXPECT_EQ(choose("q8_0", m, t).at("output.weight"), TensorType::Q8_0);
  const auto f16 = choose("f16", m, t);
  EXPECT_EQ(f16.at("output.weight"), TensorType::F16);
  EXPECT_EQ(f16.at("blk.1.ffn_norm.weight"), TensorType::F32);
  EXPECT_EQ(choose("bf16", m, t).at("blk.1.attn_q.weight"), TensorType::BF16);
  EXPECT_EQ(choose("f32", m, t).at("blk.1.attn_q.weight"), TensorType::F32);
}

TEST(Mix, TiedEmbeddingsAreTreatedAsTheOutput) {
  const auto t = llama_tensors(4, 4096, 11008, true);
  const ModelShape m = {"llama", 4, 0, 32, 32};
  EXPECT_EQ(choose("q4_0", m, t).at("token_embd.weight"), TensorType::Q6_K);
  EXPECT_EQ(choose("q8_0", m, t).at("token_embd.weight"), TensorType::Q8_0);
}

TEST(Mix, RowsThatDoNotFillBlocksFallBack) {
  // Rows of 192 (the bundled model): K types fall back, output goes to Q8_0.
  auto t = llama_tensors(6, 192, 512, false);
  const ModelShape m = {"llama", 6, 0, 6, 2};
  const auto q4km = choose("q4_k_m", m, t);
  EXPECT_EQ(q4km.at("token_embd.weight"), TensorType::Q5_0);
  EXPECT_EQ(q4km.at("output.weight"), TensorType::Q8_0);
  EXPECT_EQ(q4km.at("blk.0.attn_v.weight"), TensorType::Q5_0);
  EXPECT_EQ(q4km.at("blk.2.attn_v.weight"), TensorType::Q8_0);    // Q6_K -> Q8_0
  EXPECT_EQ(q4km.at("blk.0.ffn_down.weight"), TensorType::Q4_K);  // rows of 512 fit
  EXPECT_EQ(q4km.at("blk.5.ffn_down.weight"), TensorType::Q6_K);
  EXPECT_EQ(choose("q5_k_m", m, t).at("blk.0.attn_q.weight"), TensorType::Q5_1);
  EXPECT_EQ(choose("q6_k", m, t).at("blk.0.attn_q.weight"), TensorType::Q8_0);
  // Rows of 100 fit no block type: f16, as llama.cpp does for its fallbacks.
  t.push_back({"blk.0.odd.weight", TensorType::F32, 2, 100});
  EXPECT_EQ(choose("q4_0", m, t).at("blk.0.odd.weight"), TensorType::F16);
  EXPECT_EQ(choose("q4_k_m", m, t).at("blk.0.odd.weight"), TensorType::F16);
}

TEST(Mix, VectorsStayFloat32) {
  auto t = llama_tensors(2, 256, 512, false);
  t.push_back({"blk.0.attn_q.bias", TensorType::F16, 1, 256});
  t.push_back({"blk.1.attn_q.bias", TensorType::F32, 1, 256});
  t.push_back({"blk.1.attn_k.bias", TensorType::BF16, 1, 256});
  const ModelShape m = {"qwen2", 2, 0, 8, 8};
  for (const char* type : {"q4_0", "q8_0", "f16", "q4_k_m"}) {
    const auto got = choose(type, m, t);
    EXPECT_EQ(got.at("blk.0.attn_q.bias"), TensorType::F32) << type;
    EXPECT_EQ(got.at("blk.1.attn_q.bias"), TensorType::F32) << type;
    EXPECT_EQ(got.at("blk.1.attn_k.bias"), TensorType::F32) << type;
    EXPECT_EQ(got.at("blk.0.attn_norm.weight"), TensorType::F32) << type;
  }
}

TEST(Mix, ArchitectureAndExpertRules) {
  const auto t = llama_tensors(4, 4096, 11008, false);
  EXPECT_EQ(choose("q4_k_m", {"falcon", 4, 0, 32, 1}, t).at("output.weight"), TensorType::Q8_0);
  const auto moe = choose("q4_k_m", {"llama", 4, 8, 32, 8}, t);
  EXPECT_EQ(moe.at("blk.1.attn_v.weight"), TensorType::Q8_0);
  EXPECT_EQ(moe.at("blk.1.attn_k.weight"), TensorType::Q8_0);
  EXPECT_EQ(moe.at("blk.1.attn_output.weight"), TensorType::Q5_K);
}

TEST(Mix, OrderIsLlamaCpps) {
  const std::vector<TensorShape> t = {{"blk.10.attn_q.weight", TensorType::F16, 2, 32},
                                      {"blk.2.attn_q.weight", TensorType::F16, 2, 32},
                                      {"token_embd.weight", TensorType::F16, 2, 32},
                                      {"blk.2.attn_k.weight", TensorType::F16, 2, 32},
                                      {"output.weight", TensorType::F16, 2, 32}};
  EXPECT_EQ(llama_tensor_order(t), (std::vector<size_t>{4, 2, 3, 1, 0}));
}

TEST(Mix, FileTypeNames) {
  EXPECT_EQ(find_file_type("Q4_K")->name, "q4_k_m");
  EXPECT_EQ(find_file_type("q4_k_m")->llama_ftype, 15u);
  EXPECT_EQ(find_file_type("q5_k_m")->llama_ftype, 17u);
  EXPECT_EQ(find_file_type("q6_k")->llama_ftype, 18u);
  EXPECT_EQ(find_file_type("q8_0")->llama_ftype, 7u);
  EXPECT_EQ(find_file_type("q5_0")->llama_ftype, 8u);
  EXPECT_EQ(find_file_type("q5_1")->llama_ftype, 9u);
  EXPECT_EQ(find_file_type("BF16")->llama_ftype, 32u);
  EXPECT_EQ(find_file_type("f32")->llama_ftype, 0u);
  EXPECT_FALSE(find_file_type("q9_0").has_value());
  EXPECT_FALSE(find_file_type("").has_value());
}

}  // namespace
}  // namespace hearth::quant
