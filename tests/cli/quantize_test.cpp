// `hearth quantize` as a user runs it: the real binary, a temporary folder.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/reader.h"

namespace {

const std::string kModel = std::string(HEARTH_SOURCE_DIR) + "/models/tiny-kjv-f16.gguf";

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string(HEARTH_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hearth_cli_quantize_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(QuantizeCli, Q4_0WritesALoadableFileAndASummary) {
  const std::string out = (dir_ / "kjv-q4_0.gguf").string();
  const Result r = run("quantize " + kModel + " " + out + " q4_0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("MiB ->"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bits per weight: 16.00 ->"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("q4_0"), std::string::npos) << r.output;
  auto file = hearth::gguf::GgufFile::open(out);
  EXPECT_EQ(file->get_uint("general.file_type", 999), 2u);
  int q4 = 0;
  for (const auto& t : file->tensors()) q4 += t.type == hearth::gguf::TensorType::Q4_0;
  EXPECT_EQ(q4, 43);  // every 2-D weight but output.weight (Q8_0, as llama.cpp)
  EXPECT_EQ(file->find_tensor("output.weight")->type, hearth::gguf::TensorType::Q8_0);
  // Not a terminal: no progress line (carriage returns) in captured output.
  EXPECT_EQ(r.output.find('\r'), std::string::npos);
}

TEST_F(QuantizeCli, ModelNameAndMixType) {
  const std::string out = (dir_ / "kjv-q4_k_m.gguf").string();
  const Result r = run("quantize tiny-kjv " + out + " Q4_K_M --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto file = hearth::gguf::GgufFile::open(out);
  EXPECT_EQ(file->get_uint("general.file_type", 999), 15u);
  EXPECT_EQ(file->find_tensor("blk.0.ffn_down.weight")->type, hearth::gguf::TensorType::Q4_K);
}

TEST_F(QuantizeCli, UnknownTypeIsRefused) {
  const std::string out = (dir_ / "x.gguf").string();
  const Result r = run("quantize " + kModel + " " + out + " q9_9");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown quantization type 'q9_9'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("q4_k_m"), std::string::npos) << r.output;  // lists the valid ones
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(QuantizeCli, MissingInputIsNamed) {
  const std::string in = (dir_ / "nonexistent.gguf").string();
  const Result r = run("quantize " + in + " " + (dir_ / "x.gguf").string() + " q8_0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nonexistent.gguf"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
}

TEST_F(QuantizeCli, MissingArgumentsShowUsage) {
  const Result r = run("quantize " + kModel);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("required"), std::string::npos) << r.output;
}

}  // namespace
