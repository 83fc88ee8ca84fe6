// `hearth show` on the bundled model, on a broken file, and on an unknown name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"

namespace {

using hearth::test::Result;
using hearth::test::run_hearth;
using ::testing::HasSubstr;

const std::string kModel = std::string(HEARTH_TINY_KJV);

TEST(Show, DescribesTheBundledModelAsJson) {
  Result r = run_hearth("show tiny-kjv --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], 14649792);
  EXPECT_EQ(j["block_count"], 6);
  EXPECT_EQ(j["embedding_length"], 192);
  EXPECT_EQ(j["feed_forward_length"], 512);
  EXPECT_EQ(j["head_count"], 6);
  EXPECT_EQ(j["head_count_kv"], 2);
  EXPECT_EQ(j["head_dim"], 32);
  EXPECT_EQ(j["context_length"], 256);
  EXPECT_EQ(j["vocab_size"], 32000);
  EXPECT_EQ(j["tensor_types"]["f16"], 44);  // 6 x 7 matrices + token_embd + output
  EXPECT_EQ(j["tensor_types"]["f32"], 13);  // 6 x 2 norms + output_norm
  EXPECT_EQ(j["quantization"], "F16");
  EXPECT_EQ(j["vocab_only"], false);
  EXPECT_EQ(j["tokenizer"]["model"], "llama");
  EXPECT_EQ(j["tokenizer"]["bos_token_id"], 1);
  EXPECT_EQ(j["tokenizer"]["eos_token_id"], 2);
  EXPECT_EQ(j["chat_template"], true);
  EXPECT_EQ(j["file_size"], std::filesystem::file_size(kModel));
  // Memory at the model's own context: f16 K and V for 6 layers x 256 positions x 2 heads x 32.
  EXPECT_EQ(j["memory"]["context"], 256);
  EXPECT_EQ(j["memory"]["kv_cache"], 2 * 6 * 256 * 2 * 32 * 2);
  const uint64_t weights = j["memory"]["weights"];
  EXPECT_EQ(weights, (14649792u - 13u * 192u) * 2 + 13u * 192u * 4);
  EXPECT_GT(j["memory"]["compute"].get<uint64_t>(), 0u);
  EXPECT_EQ(
      j["memory"]["total"].get<uint64_t>(),
      weights + j["memory"]["kv_cache"].get<uint64_t>() + j["memory"]["compute"].get<uint64_t>());
  EXPECT_FALSE(j.contains("tensors"));
  EXPECT_FALSE(j.contains("metadata"));
}

TEST(Show, ContextOptionScalesTheKvCache) {
  Result r = run_hearth("show " + kModel + " --json --ctx 1024");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["memory"]["context"], 1024);
  EXPECT_EQ(j["memory"]["kv_cache"], 2 * 6 * 1024 * 2 * 32 * 2);
  Result text = run_hearth("show tiny-kjv --ctx 1024");
  EXPECT_THAT(text.out, HasSubstr("beyond the trained context of 256"));
}

TEST(Show, APartAloneAlsoAsJsonAndNotWithWholeModelFlags) {
  const Result text = run_hearth("show tiny-kjv --template");
  ASSERT_EQ(text.code, 0) << text.err;
  const Result r = run_hearth("show tiny-kjv --template --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["template"].is_string()) << r.out;
  EXPECT_EQ(j["template"].get<std::string>() + "\n", text.out);
  const Result mixed = run_hearth("show tiny-kjv --modelfile --tensors");
  EXPECT_EQ(mixed.code, 1);
  EXPECT_THAT(mixed.err, HasSubstr("--modelfile prints that part alone"));
}

TEST(Show, ListsTensorsAndMetadataInJson) {
  Result r = run_hearth("show tiny-kjv --json --tensors --metadata");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tensors"].size(), 57u);
  bool found = false;
  for (const auto& t : j["tensors"])
    if (t["name"] == "token_embd.weight") {
      found = true;
      EXPECT_EQ(t["type"], "f16");
      EXPECT_EQ(t["dims"], nlohmann::json::array({192, 32000}));
      EXPECT_EQ(t["bytes"], 192 * 32000 * 2);
    }
  EXPECT_TRUE(found);
  const auto& tokens = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["type"], "array");
  EXPECT_EQ(tokens["element_type"], "string");
  EXPECT_EQ(tokens["length"], 32000);
  EXPECT_EQ(tokens["first"][1], "<s>");
  EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
  EXPECT_EQ(j["metadata"]["llama.block_count"], 6);
}

TEST(Show, PrintsASummaryAsText) {
  Result r = run_hearth("show tiny-kjv --tensors --metadata");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("14,649,792"));
  EXPECT_THAT(r.out, HasSubstr("llama"));
  EXPECT_THAT(r.out, HasSubstr("KV heads 2"));
  EXPECT_THAT(r.out, HasSubstr("f16: 44"));
  EXPECT_THAT(r.out, HasSubstr("f32: 13"));
  EXPECT_THAT(r.out, HasSubstr("BOS 1, EOS 2"));
  EXPECT_THAT(r.out, HasSubstr("KV cache (f16)"));
  EXPECT_THAT(r.out, HasSubstr("blk.5.ffn_down.weight"));
  EXPECT_THAT(r.out, HasSubstr("tokenizer.ggml.tokens = [string x 32,000]"));
}

TEST(Show, DescribesAVocabOnlyFile) {
  Result r = run_hearth("show " + std::string(HEARTH_SOURCE_DIR) +
                        "/tests/data/vocab/ggml-vocab-gpt-2.gguf --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["vocab_only"], true);
  EXPECT_EQ(j["parameters"], 0);
  EXPECT_EQ(j["memory"]["weights"], 0);
  EXPECT_EQ(j["tokenizer"]["model"], "gpt2");
  EXPECT_EQ(j["vocab_size"], 50257);
}

TEST(Show, RefusesABrokenFileClearly) {
  const auto path =
      std::filesystem::temp_directory_path() / ("broken-" + std::to_string(::getpid()) + ".gguf");
  {
    // The bundled model cut short in the middle of token_embd's data.
    std::ifstream in(kModel, std::ios::binary);
    std::string head(20000000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(path, std::ios::binary) << head;
  }
  Result r = run_hearth("show " + path.string());
  std::filesystem::remove(path);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr(path.string()));
  EXPECT_THAT(r.err, HasSubstr("tensor 'token_embd.weight' extends past end of file"));
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Show, RefusesAnUnknownModelName) {
  Result r = run_hearth("show no-such-model");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("no-such-model"));
  EXPECT_THAT(r.err, HasSubstr("not a known model name"));
}

}  // namespace
