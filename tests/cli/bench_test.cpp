// `hearth bench`: speed figures with the roofline beside them, as JSON and as a table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"

namespace {

using hearth::test::run_hearth;

TEST(Bench, JsonHasPositiveFigures) {
  const auto r = run_hearth("bench tiny-kjv -p 32 -n 8 -r 2 -t 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"prompt_tokens_per_s", "gen_tokens_per_s", "model_bytes",
                          "read_bandwidth_gbs", "roofline_fraction", "threads"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  EXPECT_EQ(j["threads"], 2);
  // The weights one token reads: the 14.6 M-parameter f16 model minus its embedding table.
  EXPECT_GT(j["model_bytes"].get<double>(), 15e6);
  EXPECT_LT(j["model_bytes"].get<double>(), 30e6);
  // A generated token also reads the K and V cache of the positions before it: on average 4 of
  // them for 8 tokens, each 6 layers x (K, V) x 64 values x 2 bytes.
  EXPECT_EQ(j["depth"], 0);
  EXPECT_EQ(j["kv_bytes_per_token"], 4 * 6 * 2 * 64 * 2);
  // The fraction is the bytes streamed per second over the measured DRAM bandwidth. It is not
  // bounded by 1 here: a 17 MB model stays in the last-level cache between tokens.
  const double streamed = j["gen_tokens_per_s"].get<double>() *
                          (j["model_bytes"].get<double>() + j["kv_bytes_per_token"].get<double>());
  EXPECT_NEAR(j["roofline_fraction"].get<double>(),
              streamed / (j["read_bandwidth_gbs"].get<double>() * 1e9),
              1e-9 * j["roofline_fraction"].get<double>());
  // Prefill's roofline: the matrices' multiply-adds per token against the int8 multiply-add
  // rate measured in the same run.
  for (const char* key :
       {"prompt_macs_per_token", "int8_gmacs_per_s", "prompt_roofline_fraction"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  // tiny-kjv: 6 layers of q, o (192 x 192), k, v (64 x 192), gate, up, down (512 x 192); but
  // the last layer's o, gate, up and down, and the 32000 x 192 output matrix, run once for the
  // 32 prompt tokens (only the last token's logits are wanted).
  EXPECT_DOUBLE_EQ(j["prompt_macs_per_token"].get<double>(),
                   6 * (192 * 192 + 2 * 64 * 192) + 5 * (192 * 192 + 3 * 512 * 192) +
                       (192 * 192 + 3 * 512 * 192) / 32.0 + 32000 * 192 / 32.0);
  const double done =
      j["prompt_tokens_per_s"].get<double>() * j["prompt_macs_per_token"].get<double>();
  EXPECT_NEAR(j["prompt_roofline_fraction"].get<double>(),
              done / (j["int8_gmacs_per_s"].get<double>() * 1e9),
              1e-9 * j["prompt_roofline_fraction"].get<double>());
  // No kernel outruns the instruction's own peak (a bad count or a dropped benchmark loop would).
  EXPECT_LT(j["prompt_roofline_fraction"].get<double>(), 1.0);
}

TEST(Bench, TableByDefault) {
  const auto r = run_hearth("bench tiny-kjv -p 16 -n 4 -r 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("pp16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tg4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("roofline"), std::string::npos) << r.out;
}

// -d, as llama-bench's: each test runs after that many tokens in the KV cache (a long chat), and
// generation's roofline counts the cache it reads.
TEST(Bench, DepthPutsTokensInTheCacheFirst) {
  const auto r = run_hearth("bench tiny-kjv -p 16 -n 8 -d 600 -r 1 -t 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["depth"], 600);
  EXPECT_GT(j["prompt_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["gen_tokens_per_s"].get<double>(), 0);
  // 604 positions on average, 6 layers x (K, V) x 64 values x 2 bytes each.
  EXPECT_EQ(j["kv_bytes_per_token"], 604 * 6 * 2 * 64 * 2);
  const auto table = run_hearth("bench tiny-kjv -p 16 -n 4 -d 32 -r 1");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("pp16 @ d32"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tg4 @ d32"), std::string::npos) << table.out;
}

TEST(Bench, BadArgumentsFail) {
  EXPECT_NE(run_hearth("bench tiny-kjv -p 0 -n 0").code, 0);
  EXPECT_NE(run_hearth("bench no-such-model").code, 0);
  // A depth below 0, or beyond what the model's context allows (4 x its 256 training tokens).
  const auto negative = run_hearth("bench tiny-kjv -d -1");
  EXPECT_NE(negative.code, 0);
  EXPECT_NE(negative.err.find("-d (depth)"), std::string::npos) << negative.err;
  const auto deep = run_hearth("bench tiny-kjv -d 1020 -p 4 -n 4");
  EXPECT_NE(deep.code, 0);
  EXPECT_NE(deep.err.find("need a context of 1025 tokens"), std::string::npos) << deep.err;
}

}  // namespace
