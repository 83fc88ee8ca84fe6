// GET /metrics and GET /health of a real `hearth serve`: metric names, types
// and values after real requests, the exposition checked by `promtool check
// metrics` and scraped by a real Prometheus server (Debian's `prometheus`)
// started here on loopback, whose values must move with the traffic; and
// every query of deploy/grafana-dashboard.json run against it.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cli/background_process.h"
#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

using nlohmann::json;

// The value of the sample written exactly as `series`, or -1 when absent.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string type_of(const std::string& text, const std::string& name) {
  std::smatch m;
  const std::regex re("# TYPE " + name + " (\\w+)\n");
  return std::regex_search(text, m, re) ? m[1].str() : "";
}

json generate(HearthServer& s, const std::string& prompt, bool stream, json options) {
  const auto r =
      s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", prompt}, {"stream", stream}, {"options", options}});
  EXPECT_EQ(r.status, 200) << r.body;
  return stream ? r.ndjson().back() : r.json();
}

TEST(Metrics, NamesTypesAndValuesAfterRealRequests) {
  HearthServer s("--parallel 2");
  const std::string secret = "zebra-quartz-marker";
  int64_t generated = 0;
  // Sampled (not cacheable) requests: each generates; the second and third
  // share their prompt's start with the first (a prefix-cache hit).
  const json sampled = {{"temperature", 0.8}, {"num_predict", 12}};
  generated +=
      generate(s, secret + " In the beginning", true, sampled)["eval_count"].get<int64_t>();
  generated +=
      generate(s, secret + " In the beginning", false, sampled)["eval_count"].get<int64_t>();
  generated +=
      generate(s, secret + " In the beginning", true, sampled)["eval_count"].get<int64_t>();
  // A deterministic request twice: the second is replayed from the response cache.
  const json greedy = {{"temperature", 0}, {"num_predict", 8}};
  generated += generate(s, "And God said", false, greedy)["eval_count"].get<int64_t>();
  auto replay = s.post(
      "/api/generate",
      {{"model", "tiny-kjv"}, {"prompt", "And God said"}, {"stream", false}, {"options", greedy}});
  EXPECT_EQ(replay.headers["x-hearth-cache"], "hit");
  // Refused ones.
  EXPECT_EQ(s.post("/api/generate", {{"model", secret}, {"prompt", "x"}}).status, 404);
  EXPECT_EQ(s.get("/api/generate").status, 405);
  EXPECT_EQ(s.get("/" + secret).status, 404);

  const auto r = s.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& t = r.body;
  // Neither the prompt nor the unknown model's name nor the path is a label.
  EXPECT_EQ(t.find("zebra"), std::string::npos);

  EXPECT_EQ(type_of(t, "llm_requests_total"), "counter");
  EXPECT_EQ(type_of(t, "llm_inference_duration_seconds"), "histogram");
  EXPECT_EQ(type_of(t, "llm_time_to_first_token_seconds"), "histogram");
  EXPECT_EQ(type_of(t, "llm_inter_token_latency_seconds"), "histogram");
  EXPECT_EQ(type_of(t, "llm_prompt_tokens_total"), "counter");
  EXPECT_EQ(type_of(t, "llm_generated_tokens_total"), "counter");
  EXPECT_EQ(type_of(t, "llm_cache_hits_total"), "counter");
  EXPECT_EQ(type_of(t, "llm_rejected_requests_total"), "counter");
  for (const char* g :
       {"llm_queue_depth", "llm_active_sequences", "llm_kv_cache_usage_ratio", "llm_models_loaded",
        "llm_model_memory_bytes", "process_resident_memory_bytes"})
    EXPECT_EQ(type_of(t, g), "gauge") << g;
  EXPECT_EQ(type_of(t, "process_cpu_seconds_total"), "counter");

  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/generate",status="200"})"), 5);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/generate",status="404"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/generate",status="405"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="other",status="404"})"), 1);
  const std::string m = R"({model="tiny-kjv:latest")";
  EXPECT_EQ(value_of(t, "llm_inference_duration_seconds_count" + m + R"(,route="/api/generate"})"),
            5);
  EXPECT_EQ(value_of(t, "llm_generated_tokens_total" + m + "}"), generated);
  EXPECT_GT(value_of(t, "llm_prompt_tokens_total" + m + "}"), 4 * 5);
  EXPECT_EQ(value_of(t, "llm_time_to_first_token_seconds_count" + m + "}"),
            4);  // the replay generated nothing
  EXPECT_GE(value_of(t, "llm_inter_token_latency_seconds_count" + m + "}"), generated / 2);
  EXPECT_EQ(value_of(t, R"(llm_cache_hits_total{cache="response"})"), 1);
  EXPECT_GE(value_of(t, R"(llm_cache_hits_total{cache="prefix"})"), 2);
  EXPECT_EQ(value_of(t, R"(llm_rejected_requests_total{reason="queue_full"})"), 0);
  EXPECT_EQ(value_of(t, "llm_models_loaded"), 1);
  EXPECT_GT(value_of(t, "llm_model_memory_bytes" + m + "}"), 1e6);
  EXPECT_EQ(value_of(t, "llm_queue_depth"), 0);
  EXPECT_GT(value_of(t, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(value_of(t, "process_cpu_seconds_total"), 0);

  // The exposition passes Prometheus's own checker (format and lint).
  const TempDir dir;
  std::ofstream(dir.path() + "/scrape.txt") << t;
  const auto check = run_command("promtool check metrics < " + dir.path() + "/scrape.txt");
  EXPECT_EQ(check.code, 0) << check.out;
  EXPECT_EQ(check.out, "");

  EXPECT_EQ(http_request(s.port(), "POST", "/metrics", "{}").status, 405);
}

TEST(Metrics, HealthAndASeparateMetricsListener) {
  const int mport = free_port();
  HearthServer s("--metrics-port " + std::to_string(mport));
  auto h = s.get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["status"], "ok");
  EXPECT_EQ(http_request(s.port(), "HEAD", "/health").status, 200);
  // The metrics listener serves /metrics and /health, nothing else.
  generate(s, "In the beginning", false, {{"temperature", 0}, {"num_predict", 4}});
  const auto m = http_request(mport, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(value_of(m.body, R"(llm_requests_total{route="/api/generate",status="200"})"), 1);
  EXPECT_EQ(http_request(mport, "GET", "/health").status, 200);
  EXPECT_EQ(http_request(mport, "GET", "/api/tags").status, 404);
  EXPECT_EQ(http_request(mport, "POST", "/api/generate", "{}").status, 404);
  EXPECT_NE(s.log().find("metrics on 127.0.0.1:" + std::to_string(mport)), std::string::npos);
}

TEST(Metrics, HealthIsUnavailableWhileNoRequestCouldBeTaken) {
  // One slot and no waiting allowed: while a long answer holds the slot, a
  // load balancer must send requests elsewhere.
  HearthServer s("--parallel 1 --max-queue 0 -t 1");
  EXPECT_EQ(s.get("/health").status, 200);  // nothing loaded yet: free
  std::thread busy([&] {
    const auto r =
        s.post("/api/generate",
               {{"model", "tiny-kjv"},
                {"prompt", "In the beginning"},
                {"stream", false},
                {"options", {{"temperature", 0}, {"num_predict", 1000}, {"num_ctx", 1024}}}});
    EXPECT_EQ(r.status, 200) << r.body;
  });
  HttpResponse h;
  EXPECT_TRUE(
      wait_until([&] { return (h = s.get("/health")).status == 503; }, std::chrono::seconds(20)));
  EXPECT_EQ(h.json()["status"], "unavailable");
  EXPECT_EQ(h.json()["reason"], "every loaded model's queue is full");
  EXPECT_EQ(h.headers["retry-after"], "1");
  // As a request finds it: 503 with Retry-After, counted as a rejection.
  const auto refused = s.post("/api/generate", {{"model", "tiny-kjv"}, {"prompt", "And"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.headers.count("retry-after"), 1u);
  busy.join();
  EXPECT_EQ(s.get("/health").status, 200);
  EXPECT_EQ(value_of(s.get("/metrics").body, R"(llm_rejected_requests_total{reason="queue_full"})"),
            1);
}

TEST(Metrics, GpusThroughNvmlWhenItLoads) {
  // No GPU family without NVML (the machines running the tests have none)...
  HearthServer plain;
  EXPECT_EQ(plain.get("/metrics").body.find("nvidia_smi"), std::string::npos);
  // ...and with it (a stand-in library here), each GPU's utilization and memory.
  setenv("HEARTH_NVML", FAKE_NVML, 1);
  HearthServer s;
  unsetenv("HEARTH_NVML");
  const std::string t = s.get("/metrics").body;
  const std::string gpu = R"({gpu="0",name="Fake GPU"})";
  EXPECT_EQ(type_of(t, "nvidia_smi_utilization_gpu"), "gauge");
  EXPECT_EQ(value_of(t, "nvidia_smi_utilization_gpu" + gpu), 0.37);
  EXPECT_EQ(value_of(t, "nvidia_smi_memory_used_bytes" + gpu), double(1ull << 30));
  EXPECT_EQ(value_of(t, "nvidia_smi_memory_total_bytes" + gpu), double(80ull << 30));
  const TempDir dir;
  std::ofstream(dir.path() + "/scrape.txt") << t;
  const auto check = run_command("promtool check metrics < " + dir.path() + "/scrape.txt");
  EXPECT_EQ(check.code, 0) << check.out;
  // hearth doctor lists it.
  setenv("HEARTH_NVML", FAKE_NVML, 1);
  const auto doctor = run_hearth("doctor --json");
  unsetenv("HEARTH_NVML");
  ASSERT_EQ(doctor.code, 0) << doctor.err;
  const auto gpus = json::parse(doctor.out)["gpus"];
  ASSERT_EQ(gpus.size(), 1u);
  EXPECT_EQ(gpus[0]["name"], "Fake GPU");
  EXPECT_EQ(gpus[0]["memory_total_bytes"].get<double>(), double(80ull << 30));
}

// Prometheus's HTTP API: the value of the instant query `q`, or nullopt
// while it has no result.
std::optional<double> query(int port, const std::string& q) {
  const auto r = http_request(port, "GET", "/api/v1/query?query=" + url_encode(q));
  if (r.status != 200) return std::nullopt;
  const auto j = r.json();
  if (j["status"] != "success" || j["data"]["result"].empty()) return std::nullopt;
  return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
}

TEST(Metrics, ARealPrometheusScrapesAndTheValuesMoveWithTraffic) {
  HearthServer s;
  generate(s, "In the beginning", false, {{"temperature", 0}, {"num_predict", 6}});
  const TempDir dir;
  const int pport = free_port();
  std::ofstream(dir.path() + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: hearth\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << s.port() << "']\n";
  BackgroundProcess prom("prometheus --config.file=" + dir.path() + "/prometheus.yml" +
                             " --storage.tsdb.path=" + dir.path() + "/data" +
                             " --web.listen-address=127.0.0.1:" + std::to_string(pport),
                         dir.path() + "/prometheus.log");
  ASSERT_TRUE(wait_until([&] { return http_request(pport, "GET", "/-/ready").status == 200; },
                         std::chrono::seconds(60)))
      << prom.log();
  const std::string gen = R"(llm_generated_tokens_total{job="hearth",model="tiny-kjv:latest"})";
  std::optional<double> before;
  ASSERT_TRUE(wait_until([&] { return (before = query(pport, gen)).has_value(); },
                         std::chrono::seconds(60)))
      << prom.log();
  EXPECT_EQ(*before, 6);
  EXPECT_EQ(query(pport, R"(up{job="hearth"})"), 1.0);

  // More traffic: the scraped counters follow.
  const auto more = generate(s, "And the earth", false, {{"temperature", 0}, {"num_predict", 9}});
  const double expected = 6 + more["eval_count"].get<double>();
  EXPECT_TRUE(wait_until([&] { return query(pport, gen) == expected; }, std::chrono::seconds(60)))
      << "last value " << query(pport, gen).value_or(-1);
  EXPECT_TRUE(wait_until(
      [&] {
        return query(pport, R"(llm_requests_total{route="/api/generate",status="200"})") == 2.0;
      },
      std::chrono::seconds(30)));

  // Every query of the Grafana dashboard is valid PromQL over these series,
  // and the ones about traffic so far have data.
  const auto dash =
      json::parse(slurp(std::string(HEARTH_SOURCE_DIR) + "/deploy/grafana-dashboard.json"));
  int queries = 0;
  std::set<std::string> with_data;
  for (const auto& panel : dash["panels"]) {
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
      expr = std::regex_replace(expr, std::regex(R"(\$(instance|job))"), ".*");
      const auto r = http_request(pport, "GET", "/api/v1/query?query=" + url_encode(expr));
      EXPECT_EQ(r.status, 200) << expr << ": " << r.body;
      EXPECT_EQ(r.json()["status"], "success") << expr;
      if (!r.json()["data"]["result"].empty()) with_data.insert(panel["title"].get<std::string>());
      ++queries;
    }
  }
  EXPECT_GE(queries, 15);
  for (const char* title : {"Requests per second by route and status", "Model memory",
                            "Process resident memory", "Queue depth and active sequences"})
    EXPECT_TRUE(with_data.count(title)) << title;
}

}  // namespace
}  // namespace hearth::test
