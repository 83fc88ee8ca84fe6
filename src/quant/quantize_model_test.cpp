// quantize_model beyond the golden hashes: metadata, float targets, thread
// count independence, and clear errors.
#include "quant/quantize_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "quant/fp16.h"

namespace hearth::quant {
namespace {

const std::string kModel = std::string(HEARTH_TINY_KJV);
// What the type mixes need of tiny-kjv (model::mix_shape reads it in the program).
const ModelShape kTinyKjv{"llama", 6, 0, 6, 2};

class QuantizeModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hearth_quant_model_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

threads::ThreadPool& pool() {
  static threads::ThreadPool p(2);
  return p;
}

std::vector<char> read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(QuantizeModel, CopiesMetadataAndSetsFileType) {
  QuantizeOptions o;
  o.type = "q4_0";
  const QuantizeSummary s = quantize_model(kModel, kTinyKjv, path("q4.gguf"), o, pool());
  auto in = gguf::GgufFile::open(kModel);
  auto out = gguf::GgufFile::open(path("q4.gguf"));
  EXPECT_EQ(out->get_uint("general.file_type", 999), 2u);  // LLAMA_FTYPE_MOSTLY_Q4_0
  EXPECT_EQ(out->get_uint("general.quantization_version", 0), 2u);
  for (const auto& [key, value] : in->metadata()) {
    ASSERT_TRUE(out->has(key)) << key;
    if (key == "general.file_type") continue;
    EXPECT_EQ(out->find(key)->type(), value.type()) << key;
  }
  EXPECT_EQ(out->get_string("tokenizer.chat_template"), in->get_string("tokenizer.chat_template"));
  EXPECT_EQ(out->get_string_array("tokenizer.ggml.tokens"),
            in->get_string_array("tokenizer.ggml.tokens"));
  EXPECT_EQ(out->tensors().size(), in->tensors().size());
  // Summary: sizes are those of the tensor data, bits per weight from them.
  uint64_t before = 0, after = 0, params = 0;
  for (const auto& t : in->tensors()) before += t.n_bytes, params += t.n_elements();
  for (const auto& t : out->tensors()) after += t.n_bytes;
  EXPECT_EQ(s.bytes_before, before);
  EXPECT_EQ(s.bytes_after, after);
  EXPECT_EQ(s.n_params, params);
  EXPECT_NEAR(s.bpw_after, 8.0 * static_cast<double>(after) / static_cast<double>(params), 1e-9);
  EXPECT_GT(s.bpw_before, 15.9);
  EXPECT_LT(s.bpw_after, 6.5);  // q4_0 with a Q8_0 output and an embedding
}

TEST_F(QuantizeModel, FloatTargetsConvertEachValue) {
  auto in = gguf::GgufFile::open(kModel);
  for (const char* type : {"bf16", "f32"}) {
    QuantizeOptions o;
    o.type = type;
    quantize_model(kModel, kTinyKjv, path(std::string(type) + ".gguf"), o, pool());
    auto out = gguf::GgufFile::open(path(std::string(type) + ".gguf"));
    const gguf::TensorInfo* src = in->find_tensor("blk.1.attn_q.weight");
    const gguf::TensorInfo* dst = out->find_tensor("blk.1.attn_q.weight");
    ASSERT_NE(src, nullptr);
    ASSERT_NE(dst, nullptr);
    ASSERT_EQ(src->type, gguf::TensorType::F16);
    const auto* h = reinterpret_cast<const uint16_t*>(src->data);
    for (uint64_t i = 0; i < src->n_elements(); i += 97) {
      const float v = fp16_to_fp32(h[i]);
      if (std::string(type) == "bf16") {
        ASSERT_EQ(dst->type, gguf::TensorType::BF16);
        EXPECT_EQ(reinterpret_cast<const uint16_t*>(dst->data)[i], fp32_to_bf16(v));
      } else {
        ASSERT_EQ(dst->type, gguf::TensorType::F32);
        EXPECT_EQ(reinterpret_cast<const float*>(dst->data)[i], v);
      }
    }
    EXPECT_EQ(out->find_tensor("output_norm.weight")->type, gguf::TensorType::F32);
  }
}

TEST_F(QuantizeModel, SameBytesWithAnyThreadCount) {
  QuantizeOptions o;
  o.type = "q4_k_m";
  threads::ThreadPool one(1), three(3);
  quantize_model(kModel, kTinyKjv, path("a.gguf"), o, one);
  quantize_model(kModel, kTinyKjv, path("b.gguf"), o, three);
  const auto a = read_all(path("a.gguf"));
  EXPECT_GT(a.size(), 1000000u);
  EXPECT_TRUE(a == read_all(path("b.gguf")));
}

TEST_F(QuantizeModel, ErrorsAreClear) {
  QuantizeOptions o;
  o.type = "q9_9";
  try {
    quantize_model(kModel, kTinyKjv, path("x.gguf"), o, pool());
    FAIL() << "no error for an unknown type";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("q9_9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("q4_k_m"), std::string::npos) << e.what();
  }
  o.type = "q8_0";
  try {
    quantize_model(path("missing.gguf"), kTinyKjv, path("x.gguf"), o, pool());
    FAIL() << "no error for a missing input";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.gguf"), std::string::npos) << e.what();
  }
  EXPECT_THROW(quantize_model(kModel, kTinyKjv, path("no/such/dir/x.gguf"), o, pool()),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path("x.gguf")));
}

}  // namespace
}  // namespace hearth::quant
