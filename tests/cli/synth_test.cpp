// `hearth synth`: shapes, metadata, weight statistics, determinism, quantized output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli/hearth_process.h"
#include "gguf/reader.h"
#include "quant/fp16.h"

namespace {

using hearth::gguf::GgufFile;
using hearth::gguf::TensorType;
using hearth::test::run_hearth;
using hearth::test::slurp;
using hearth::test::TempDir;
using ::testing::HasSubstr;

TEST(Synth, SmallF16HasTheShapeAndTokenizer) {
  const TempDir dir;
  const std::string out = dir.path() + "/synth-small.gguf";
  const auto r = run_hearth("synth --shape small --type f16 --seed 7 " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.embedding_length", 0), 256u);
  EXPECT_EQ(f->get_uint("llama.block_count", 0), 4u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count", 0), 8u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count_kv", 0), 4u);
  EXPECT_EQ(f->get_uint("llama.feed_forward_length", 0), 768u);
  EXPECT_EQ(f->get_uint("llama.rope.dimension_count", 0), 32u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id", 0), 1u);
  // The bundled model's chat template, byte for byte.
  auto bundled = GgufFile::open(std::string(HEARTH_TINY_KJV));
  EXPECT_EQ(f->get_string("tokenizer.chat_template"),
            bundled->get_string("tokenizer.chat_template"));

  EXPECT_EQ(f->tensors().size(), 2u + 4 * 9 + 1);
  const auto* k = f->find_tensor("blk.3.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->type, TensorType::F16);
  EXPECT_EQ(k->dims[0], 256u);
  EXPECT_EQ(k->dims[1], 128u);  // 4 KV heads x 32
  const auto* down = f->find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->dims[0], 768u);
  EXPECT_EQ(down->dims[1], 256u);
  const auto* out_w = f->find_tensor("output.weight");
  ASSERT_NE(out_w, nullptr);
  EXPECT_EQ(out_w->dims[1], 32000u);

  // Norms are exactly 1.0 f32.
  const auto* norm = f->find_tensor("blk.2.ffn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, TensorType::F32);
  for (uint64_t i = 0; i < norm->n_elements(); ++i) {
    float v;
    std::memcpy(&v, norm->data + 4 * i, 4);
    ASSERT_EQ(v, 1.0f);
  }
  // Weights look like N(0, 0.02).
  const auto* embd = f->find_tensor("token_embd.weight");
  double sum = 0, sq = 0;
  const uint64_t n = embd->n_elements();
  for (uint64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, embd->data + 2 * i, 2);
    const double v = hearth::quant::fp16_to_fp32(h);
    sum += v;
    sq += v * v;
  }
  const double mean = sum / static_cast<double>(n);
  const double stddev = std::sqrt(sq / static_cast<double>(n) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(stddev, 0.02, 2e-4);
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  const TempDir dir;
  const std::string a = dir.path() + "/synth-a.gguf", b = dir.path() + "/synth-b.gguf",
                    c = dir.path() + "/synth-c.gguf";
  ASSERT_EQ(run_hearth("synth --shape small --seed 42 --threads 1 " + a).code, 0);
  ASSERT_EQ(run_hearth("synth --shape small --seed 42 --threads 3 " + b).code, 0);
  ASSERT_EQ(run_hearth("synth --shape small --seed 43 " + c).code, 0);
  const std::string bytes_a = slurp(a);
  EXPECT_GT(bytes_a.size(), 30000000u);
  EXPECT_TRUE(bytes_a == slurp(b)) << "same seed, different bytes";
  EXPECT_FALSE(bytes_a == slurp(c)) << "different seeds, same bytes";
}

TEST(Synth, Q4_0GoesThroughTheQuantizer) {
  const TempDir dir;
  const std::string out = dir.path() + "/synth-q4.gguf";
  const auto r = run_hearth("synth --shape small --type q4_0 " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out + ".f16.tmp"));
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_uint("general.file_type", 0), 2u);  // llama.cpp's MOSTLY_Q4_0
  EXPECT_EQ(f->tensors().size(), 39u);
  EXPECT_EQ(f->find_tensor("blk.1.attn_q.weight")->type, TensorType::Q4_0);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->type, TensorType::Q4_0);
  EXPECT_EQ(f->find_tensor("blk.1.attn_norm.weight")->type, TensorType::F32);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 32000u);
}

TEST(Synth, RefusesUnknownShapesAndTypes) {
  const TempDir dir;
  const std::string x = dir.path() + "/synth-x.gguf";
  const auto shape = run_hearth("synth --shape llama-9000 " + x);
  EXPECT_NE(shape.code, 0);
  EXPECT_THAT(shape.err, HasSubstr("unknown shape 'llama-9000'"));
  const auto type = run_hearth("synth --shape small --type q9_9 " + x);
  EXPECT_NE(type.code, 0);
  EXPECT_THAT(type.err, HasSubstr("unknown --type 'q9_9'"));
  EXPECT_FALSE(std::filesystem::exists(x));
}

}  // namespace
