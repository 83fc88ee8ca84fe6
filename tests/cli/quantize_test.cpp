// `hearth quantize` as a user runs it: the real binary, a temporary folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/hearth_process.h"
#include "gguf/reader.h"

namespace {

using hearth::test::Result;
using hearth::test::run_hearth;

const std::string kModel = std::string(HEARTH_TINY_KJV);

// Each test writes into its own temporary folder, removed afterwards.
class QuantizeCli : public ::testing::Test {
 protected:
  hearth::test::TempDir tmp_;
  std::filesystem::path dir_ = tmp_.path();
};

TEST_F(QuantizeCli, Q4_0WritesALoadableFileAndASummary) {
  const std::string out = (dir_ / "kjv-q4_0.gguf").string();
  Result r = run_hearth("quantize " + kModel + " " + out + " q4_0");
  r.out += r.err;  // the checks read stdout and stderr together
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MiB ->"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bits per weight: 16.00 ->"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("q4_0"), std::string::npos) << r.out;
  auto file = hearth::gguf::GgufFile::open(out);
  EXPECT_EQ(file->get_uint("general.file_type", 999), 2u);
  int q4 = 0;
  for (const auto& t : file->tensors()) q4 += t.type == hearth::gguf::TensorType::Q4_0;
  EXPECT_EQ(q4, 43);  // every 2-D weight but output.weight (Q8_0, as llama.cpp)
  EXPECT_EQ(file->find_tensor("output.weight")->type, hearth::gguf::TensorType::Q8_0);
  // Not a terminal: no progress line (carriage returns) in captured output.
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
}

TEST_F(QuantizeCli, ModelNameAndMixType) {
  const std::string out = (dir_ / "kjv-q4_k_m.gguf").string();
  Result r = run_hearth("quantize tiny-kjv " + out + " Q4_K_M --threads 2");
  r.out += r.err;  // the checks read stdout and stderr together
  ASSERT_EQ(r.code, 0) << r.out;
  auto file = hearth::gguf::GgufFile::open(out);
  EXPECT_EQ(file->get_uint("general.file_type", 999), 15u);
  EXPECT_EQ(file->find_tensor("blk.0.ffn_down.weight")->type, hearth::gguf::TensorType::Q4_K);
}

// A quantized file quantized again keeps its first rounding and adds a second:
// refused unless asked for, as llama-quantize refuses it.
TEST_F(QuantizeCli, RequantizingIsRefusedUnlessAllowed) {
  const std::string q4 = (dir_ / "kjv-q4_0.gguf").string();
  ASSERT_EQ(run_hearth("quantize " + kModel + " " + q4 + " q4_0").code, 0);
  const std::string q8 = (dir_ / "kjv-q8_0.gguf").string();
  Result r = run_hearth("quantize " + q4 + " " + q8 + " q8_0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is already quantized (q4_0)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(q8));
  r = run_hearth("quantize " + q4 + " " + q8 + " q8_0 --allow-requantize");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(hearth::gguf::GgufFile::open(q8)->find_tensor("blk.0.ffn_down.weight")->type,
            hearth::gguf::TensorType::Q8_0);
}

TEST_F(QuantizeCli, UnknownTypeIsRefused) {
  const std::string out = (dir_ / "x.gguf").string();
  Result r = run_hearth("quantize " + kModel + " " + out + " q9_9");
  r.out += r.err;  // the checks read stdout and stderr together
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("unknown quantization type 'q9_9'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("q4_k_m"), std::string::npos) << r.out;  // lists the valid ones
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(QuantizeCli, MissingInputIsNamed) {
  const std::string in = (dir_ / "nonexistent.gguf").string();
  Result r = run_hearth("quantize " + in + " " + (dir_ / "x.gguf").string() + " q8_0");
  r.out += r.err;  // the checks read stdout and stderr together
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nonexistent.gguf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no such file"), std::string::npos) << r.out;
}

TEST_F(QuantizeCli, MissingArgumentsShowUsage) {
  Result r = run_hearth("quantize " + kModel);
  r.out += r.err;  // the checks read stdout and stderr together
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("required"), std::string::npos) << r.out;
}

}  // namespace
