// `hearth run --json` on a random-weight qwen2 q8_0 model against llama.cpp's
// greedy output (tests/data/golden/qwen2-q8_0): the same token at every position
// and every top-5 probability within 0.01. The model is chaotic (one q8_0
// activation rounded differently moves later probabilities by hundredths), so
// this holds only while every op rounds as ggml's does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"

namespace {

using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::slurp;

const std::string kDir = std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/qwen2-q8_0/";

TEST(Numerics, Qwen2Q8_0MatchesLlamaCppAtEveryPosition) {
  const auto golden = nlohmann::json::parse(slurp(kDir + "greedy.json"));
  for (const auto& g : golden["q8_0"]) {
    const size_t n = g["tokens"].size();
    // 20 probabilities, so that llama.cpp's 5th token is in our list even when we rank it 6th.
    const auto r = run_hearth("run " + kDir + "qwen2-random-q8_0.gguf " + shell_quote(g["prompt"]) +
                              " --temperature 0 --repeat-penalty 1 --ctx 256 -n " +
                              std::to_string(n) + " --json --probs 20");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["prompt_tokens"], g["prompt_tokens"]);
    ASSERT_EQ(j["tokens"].size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(j["tokens"][i], g["tokens"][i]) << "position " << i;
      for (const auto& w : g["top5"][i]) {
        double p = 0;  // our probability of llama.cpp's top-5 token
        for (const auto& o : j["top"][i])
          if (o[0] == w[0]) p = o[1];
        EXPECT_NEAR(p, w[1].get<double>(), 0.01) << "position " << i << " token " << w[0];
      }
      if (j["tokens"][i] != g["tokens"][i]) break;  // different contexts from here on
    }
  }
}

}  // namespace
