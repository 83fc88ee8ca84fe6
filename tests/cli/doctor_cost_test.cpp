// `hearth doctor` and `hearth cost` on this machine: the hardware report,
// the fit table and its arithmetic, the exposure warnings; the cost report
// from a volume given, from the default, and from a running server's counters.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>

#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

using nlohmann::json;

// Runs hearth with HEARTH_HOME set to `home` (and HEARTH_HOST unset).
Result run_in(const std::string& home, const std::string& args) {
  setenv("HEARTH_HOME", home.c_str(), 1);
  unsetenv("HEARTH_HOST");
  auto r = run_hearth(args);
  unsetenv("HEARTH_HOME");
  return r;
}

TEST(Doctor, ReportsTheMachineAndTheFitTable) {
  const TempDir home;
  const auto r = run_in(home.path(), "doctor --json --ctx 2048");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_GT(j["memory_total_bytes"].get<double>(), 0);
  EXPECT_GE(j["physical_cores"].get<int>(), 1);
  EXPECT_GT(j["read_bandwidth_gbs"].get<double>(), 0.1);
  EXPECT_GT(j["int8_gops"].get<double>(), 0.1);
  EXPECT_GT(j["store_free_bytes"].get<double>(), 0);
  EXPECT_EQ(j["store"], home.path() + "/models");
  EXPECT_TRUE(j["gpus"].is_array());
  ASSERT_EQ(j["fit"].size(), 4u * 5u);  // 7B, 13B, 30B, 70B x q4_0, q4_k_m, q5_1, q8_0, f16
  const double bw = j["read_bandwidth_gbs"].get<double>() * 1e9;
  std::map<std::string, json> row;
  for (const auto& f : j["fit"])
    row[f["size"].get<std::string>() + " " + f["quant"].get<std::string>()] = f;
  // Llama 2 7B: 6.74e9 weights; q4_0 stores 4.5 bits each (llama.cpp's file: 3.56 GiB).
  const double q4 = row["7B q4_0"]["weights_bytes"];
  EXPECT_GT(q4, 3.4 * (1 << 30));
  EXPECT_LT(q4, 3.8 * (1 << 30));
  const double f16 = row["7B f16"]["weights_bytes"];
  EXPECT_NEAR(f16, 6.74e9 * 2, 0.05e9);
  // 32 layers x 2 (K, V) x 2048 positions x 4096 values x 2 bytes.
  EXPECT_EQ(row["7B f16"]["kv_cache_bytes"].get<double>(), 32.0 * 2 * 2048 * 4096 * 2);
  // 70B shares its KV heads 8 ways.
  EXPECT_EQ(row["70B q4_0"]["kv_cache_bytes"].get<double>(), 80.0 * 2 * 2048 * 1024 * 2);
  // Bigger weights: slower tokens, in proportion to the bytes read.
  for (const char* size : {"7B", "13B", "30B", "70B"}) {
    double last_bytes = 0, last_tps = 1e300;
    for (const char* q : {"q4_0", "q4_k_m", "q5_1", "q8_0", "f16"}) {
      const auto& f = row[std::string(size) + " " + q];
      EXPECT_GT(f["weights_bytes"].get<double>(), last_bytes) << size << " " << q;
      EXPECT_LT(f["tokens_per_s"].get<double>(), last_tps) << size << " " << q;
      EXPECT_LT(f["tokens_per_s"].get<double>(), bw / (0.9 * f["weights_bytes"].get<double>()));
      last_bytes = f["weights_bytes"], last_tps = f["tokens_per_s"];
      const double total = f["total_bytes"];
      const std::string fits = f["fits"];
      EXPECT_EQ(fits == "no", total > j["memory_total_bytes"].get<double>()) << size << " " << q;
    }
  }
}

TEST(Doctor, PrintsTheTable) {
  const TempDir home;
  const auto r = run_in(home.path(), "doctor");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s :
       {"CPU ", "SIMD ", "Cores ", "Memory ", "Store ", "Bandwidth ", "int8 ", "Which models fit",
        "context 4096", "| 7B    | q4_0    |", "| 70B   | f16     |"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find("Warnings"), std::string::npos) << r.out;  // a fresh home exposes nothing
}

TEST(Doctor, WarnsOfAnExposedServerAndReadableFiles) {
  const TempDir home;
  const std::string cfg = home.path() + "/config.json";
  std::ofstream(cfg) << R"({"host": "0.0.0.0:11434"})";
  chmod(cfg.c_str(), 0644);
  mkdir((home.path() + "/models").c_str(), 0755);
  const auto r = run_in(home.path(), "doctor");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("would listen on 0.0.0.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no active API key (" + home.path() + "/keys.db is missing)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(cfg + " is readable by every user"), std::string::npos) << r.out;
  // A keys file whose only key is revoked is no better: serve would refuse.
  ASSERT_EQ(run_in(home.path(), "keys create k").code, 0);
  ASSERT_EQ(run_in(home.path(), "keys revoke k").code, 0);
  const auto revoked = run_in(home.path(), "doctor");
  EXPECT_NE(revoked.out.find("is revoked or expired"), std::string::npos) << revoked.out;
  EXPECT_NE(r.out.find(home.path() + "/models is readable by every user"), std::string::npos);
  // Private files and a loopback address: no warnings.
  std::ofstream(cfg) << R"({"host": "127.0.0.1"})";
  chmod(cfg.c_str(), 0600);
  chmod((home.path() + "/models").c_str(), 0700);
  const auto quiet = run_in(home.path(), "doctor");
  EXPECT_EQ(quiet.out.find("Warnings"), std::string::npos) << quiet.out;
}

TEST(Doctor, RefusesABadContext) {
  const auto r = run_hearth("doctor --ctx 5");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--ctx must be between 16"), std::string::npos) << r.err;
}

TEST(Cost, DefaultVolumeIsSaidToBeAnAssumption) {
  const auto r = run_hearth("cost");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("no volume given: a typical 100000 tokens a day"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("gpt-4o"), std::string::npos);
  EXPECT_NE(r.out.find("break-even"), std::string::npos);
  EXPECT_NE(r.out.find("Assumptions"), std::string::npos);
}

TEST(Cost, Arithmetic) {
  const auto r = run_hearth(
      "cost --tokens-per-day 1000000 --prompt-share 0.5 --price a=0.001/0.002 --price "
      "cheap=0.00001/0.00002 --watts 100 --kwh-price 0.25 --hardware-cost 1000 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(r.out);
  // 500K prompt tokens x 0.001 + 500K generated x 0.002 per 1K: 1.5 a day, 30.44 days a month.
  EXPECT_NEAR(j["cloud"][0]["per_month"].get<double>(), 1.5 * 30.44, 1e-9);
  // 100 W around the clock at 0.25 per kWh.
  EXPECT_NEAR(j["electricity_per_month"].get<double>(), 0.1 * 24 * 30.44 * 0.25, 1e-9);
  EXPECT_NEAR(j["cloud"][0]["break_even_months"].get<double>(),
              1000 / (1.5 * 30.44 - 0.1 * 24 * 30.44 * 0.25), 1e-9);
  EXPECT_TRUE(j["cloud"][1]["break_even_months"].is_null());  // cheaper than the electricity: never
  EXPECT_EQ(j["cloud"].size(), 2u);                           // --price replaces the default tiers
}

TEST(Cost, RefusesBadNumbers) {
  for (const char* args : {"cost --price nope", "cost --price a=1/x", "cost --prompt-share 2",
                           "cost --watts -1", "cost --tokens-per-day 5 --server 127.0.0.1:1",
                           "cost --server ''", "cost --server http://127.0.0.1:x/metrics"}) {
    const auto r = run_hearth(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_NE(r.err.find("hearth: error:"), std::string::npos) << args << ": " << r.err;
  }
}

TEST(Cost, FromARunningServersCounters) {
  HearthServer s;
  const auto g = s.post("/api/generate", {{"model", "tiny-kjv"},
                                          {"prompt", "In the beginning"},
                                          {"stream", false},
                                          {"options", {{"temperature", 0}, {"num_predict", 10}}}});
  ASSERT_EQ(g.status, 200);
  const auto r = run_hearth("cost --json --server 127.0.0.1:" + std::to_string(s.port()));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_NE(
      j["source"].get<std::string>().find("the server at 127.0.0.1:" + std::to_string(s.port())),
      std::string::npos);
  EXPECT_NE(j["source"].get<std::string>().find("10 generated tokens"), std::string::npos)
      << j["source"];
  // 10 tokens in at most a minute of uptime (the floor), extrapolated to a day.
  EXPECT_NEAR(j["generated_tokens_per_day"].get<double>(), 10 * 24 * 60, 1);
  // The metrics' own URL, as the help says a URL may be given.
  const auto url =
      run_hearth("cost --json --server http://127.0.0.1:" + std::to_string(s.port()) + "/metrics");
  ASSERT_EQ(url.code, 0) << url.err;
  EXPECT_EQ(json::parse(url.out)["generated_tokens_per_day"], j["generated_tokens_per_day"]);
  const auto down = run_hearth("cost --server 127.0.0.1:" + std::to_string(free_port()));
  EXPECT_EQ(down.code, 1);
  // An address that does not resolve is blamed on the flag that gave it.
  const auto bad = run_hearth("cost --server garbage:::");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--server: cannot resolve"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find("HEARTH_HOST"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace hearth::test
