// `hearth perplexity` against llama-perplexity's figures on the same text
// (tests/data/golden/perplexity.json: -c 128 on ppl.txt) for every type.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/hearth_process.h"

namespace {

using hearth::test::run_hearth;
using hearth::test::slurp;

const std::string kData = std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/";

double golden_ppl(const std::string& type) {
  return nlohmann::json::parse(slurp(kData + "perplexity.json"))["ppl"][type].get<double>();
}

TEST(Perplexity, LastLineIsPplWithinHalfAPercentOfLlamaCpp) {
  const auto r = run_hearth("perplexity tiny-kjv -f " + kData + "ppl.txt --ctx 128");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto last = r.out.rfind("PPL = ");
  ASSERT_NE(last, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n', last), r.out.size() - 1) << "PPL is not the last line";
  const double ppl = std::stod(r.out.substr(last + 6));
  const double want = golden_ppl("f16");
  EXPECT_NEAR(ppl, want, want * 0.005);
}

TEST(Perplexity, EveryTypeWithinHalfAPercent) {
  char dir[] = "/tmp/hearth_ppl_types_XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  const auto golden = nlohmann::json::parse(slurp(kData + "perplexity.json"))["ppl"];
  for (const auto& [type, want] : golden.items()) {
    std::string model = "tiny-kjv";
    if (type != "f16") {
      model = d + "/" + type + ".gguf";
      const auto q = run_hearth("quantize tiny-kjv " + model + " " + type);
      ASSERT_EQ(q.code, 0) << q.err;
    }
    const auto r = run_hearth("perplexity " + model + " -f " + kData + "ppl.txt --ctx 128 --json");
    ASSERT_EQ(r.code, 0) << type << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_NEAR(j["ppl"].get<double>(), want.get<double>(), want.get<double>() * 0.005) << type;
    EXPECT_EQ(j["n_ctx"], 128);
    ASSERT_FALSE(j["windows"].empty());
    EXPECT_EQ(j["windows"][0]["scored"], 63);  // positions 64 .. 126
  }
  std::filesystem::remove_all(d);
}

TEST(Perplexity, TextShorterThanTwoWindowsIsAClearError) {
  char path[] = "/tmp/hearth_short_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::ofstream(path) << "In the beginning God created the heaven and the earth.";
  const auto r = run_hearth(std::string("perplexity tiny-kjv -f ") + path + " --ctx 128");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("256"), std::string::npos) << r.err;
  // It says what would fit (about 14 tokens: a context of at most 7).
  EXPECT_NE(r.err.find("; a context of at most "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("windows of"), std::string::npos) << r.err;  // no header before it
  std::filesystem::remove(path);
  const auto m = run_hearth("perplexity tiny-kjv -f /nonexistent/text.txt");
  EXPECT_NE(m.code, 0);
  EXPECT_NE(m.err.find("/nonexistent/text.txt"), std::string::npos) << m.err;
}

}  // namespace
