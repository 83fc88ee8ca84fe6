// `hearth perplexity` against llama-perplexity's figures on the same text
// (tests/data/golden/perplexity.json: -c 128 on ppl.txt) for every type.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

const std::string kBin = HEARTH_BIN;
const std::string kData = std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/";

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result hearth(const std::string& args) {
  char dir[] = "/tmp/hearth_ppl_test_XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
  const std::string d = dir;
  const std::string cmd = kBin + " " + args + " </dev/null >" + d + "/out 2>" + d + "/err";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(d + "/out");
  r.err = slurp(d + "/err");
  std::filesystem::remove_all(d);
  return r;
}

double golden_ppl(const std::string& type) {
  return nlohmann::json::parse(slurp(kData + "perplexity.json"))["ppl"][type].get<double>();
}

TEST(Perplexity, LastLineIsPplWithinHalfAPercentOfLlamaCpp) {
  const auto r = hearth("perplexity tiny-kjv -f " + kData + "ppl.txt --ctx 128");
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
      const auto q = hearth("quantize tiny-kjv " + model + " " + type);
      ASSERT_EQ(q.code, 0) << q.err;
    }
    const auto r = hearth("perplexity " + model + " -f " + kData + "ppl.txt --ctx 128 --json");
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
  const auto r = hearth(std::string("perplexity tiny-kjv -f ") + path + " --ctx 128");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("256"), std::string::npos) << r.err;
  std::filesystem::remove(path);
  const auto m = hearth("perplexity tiny-kjv -f /nonexistent/text.txt");
  EXPECT_NE(m.code, 0);
  EXPECT_NE(m.err.find("/nonexistent/text.txt"), std::string::npos) << m.err;
}

}  // namespace
