// hearth's quantizer against llama.cpp's: llama-quantize's output for the
// bundled model (tests/data/golden/quant-hashes.json, from /work/shared) lists
// every tensor's type, sha256 and dims for each target type.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gguf/reader.h"
#include "quant/quantize_model.h"

namespace hearth::quant {
namespace {

const std::string kModel = std::string(HEARTH_TINY_KJV);
// What the type mixes need of tiny-kjv (model::mix_shape reads it in the program).
const ModelShape kTinyKjv{"llama", 6, 0, 6, 2};
const std::string kHashes = std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/quant-hashes.json";

std::string sha256_hex(const uint8_t* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

nlohmann::json load_golden() {
  std::ifstream in(kHashes);
  if (!in) throw std::runtime_error("cannot read " + kHashes);
  return nlohmann::json::parse(in);
}

class GoldenHashes : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenHashes, EveryTensorMatchesLlamaQuantize) {
  const std::string type = GetParam();
  const nlohmann::json golden = load_golden();
  ASSERT_TRUE(golden.contains(type)) << type;
  const nlohmann::json& want = golden[type];

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("hearth_quant_golden_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string out = (dir / (type + ".gguf")).string();
  QuantizeOptions options;
  options.type = type;
  threads::ThreadPool pool;
  const QuantizeSummary summary = quantize_model(kModel, kTinyKjv, out, options, pool);
  EXPECT_GT(summary.n_params, 14'000'000u);

  auto file = gguf::GgufFile::open(out);
  EXPECT_EQ(file->tensors().size(), want.size());
  int mismatches = 0;
  for (const auto& [name, entry] : want.items()) {
    const gguf::TensorInfo* t = file->find_tensor(name);
    ASSERT_NE(t, nullptr) << type << ": missing tensor " << name;
    EXPECT_EQ(static_cast<uint32_t>(t->type), entry[0].get<uint32_t>()) << type << " " << name;
    std::vector<uint64_t> dims(t->dims, t->dims + t->n_dims);
    EXPECT_EQ(dims, entry[2].get<std::vector<uint64_t>>()) << type << " " << name;
    const std::string got = sha256_hex(t->data, t->n_bytes);
    if (got != entry[1].get<std::string>()) {
      ++mismatches;
      ADD_FAILURE() << type << " " << name << ": sha256 " << got << " != llama.cpp's "
                    << entry[1].get<std::string>();
    }
  }
  EXPECT_EQ(mismatches, 0);
  file.reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GoldenHashes,
                         ::testing::Values("f16", "q8_0", "q6_k", "q5_k_m", "q5_1", "q5_0",
                                           "q4_k_m", "q4_1", "q4_0"));

// The file lists exactly these types: a golden type without a test would go unchecked.
TEST(GoldenHashesFile, CoversEveryListedType) {
  const nlohmann::json golden = load_golden();
  std::vector<std::string> types;
  for (const auto& [k, v] : golden.items()) types.push_back(k);
  std::sort(types.begin(), types.end());
  const std::vector<std::string> tested = {"f16",  "q4_0",   "q4_1", "q4_k_m", "q5_0",
                                           "q5_1", "q5_k_m", "q6_k", "q8_0"};
  EXPECT_EQ(types, tested);
}

}  // namespace
}  // namespace hearth::quant
