#include "server/metrics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace hearth::server {
namespace {

// The value of the sample written exactly as `series` (name and labels), or -1.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  return -1;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Metrics, RequestsCountByRouteAndStatus) {
  Metrics m;
  m.observe_request("/api/generate", 200, "tiny:latest", 0.3);
  m.observe_request("/api/generate", 200, "tiny:latest", 0.7);
  m.observe_request("/api/generate", 404, "", 0.001);
  m.observe_request("/api/blobs/sha256:abc", 201, "", 0.01);
  m.observe_request("/secret/prompt/text", 404, "", 0.01);
  const std::string t = m.render({});
  EXPECT_TRUE(has_line(t, "# TYPE llm_requests_total counter"));
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/generate",status="200"})"), 2);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/generate",status="404"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/blobs",status="201"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="other",status="404"})"), 1);
  EXPECT_EQ(t.find("secret"), std::string::npos);  // paths outside the list never become labels
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.observe_request("/api/chat", 200, "a", 0.3);
  m.observe_request("/api/chat", 200, "a", 0.7);
  m.observe_request("/api/chat", 200, "a", 1000);  // past the last bound: only +Inf
  const std::string t = m.render({});
  const std::string b = R"(llm_inference_duration_seconds_bucket{model="a",route="/api/chat",le=)";
  EXPECT_TRUE(has_line(t, "# TYPE llm_inference_duration_seconds histogram"));
  EXPECT_EQ(value_of(t, b + R"("0.25"})"), 0);
  EXPECT_EQ(value_of(t, b + R"("0.5"})"), 1);
  EXPECT_EQ(value_of(t, b + R"("1"})"), 2);
  EXPECT_EQ(value_of(t, b + R"("300"})"), 2);
  EXPECT_EQ(value_of(t, b + R"("+Inf"})"), 3);
  EXPECT_EQ(value_of(t, R"(llm_inference_duration_seconds_count{model="a",route="/api/chat"})"), 3);
  EXPECT_DOUBLE_EQ(
      value_of(t, R"(llm_inference_duration_seconds_sum{model="a",route="/api/chat"})"), 1001);
}

TEST(Metrics, ABoundAtItsOwnBucket) {
  Metrics m;
  m.on_first_token("a", 0.05);  // le="0.05" includes 0.05
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_time_to_first_token_seconds_bucket{model="a",le="0.025"})"), 0);
  EXPECT_EQ(value_of(t, R"(llm_time_to_first_token_seconds_bucket{model="a",le="0.05"})"), 1);
}

TEST(Metrics, ModelLabelsAreBounded) {
  Metrics m;
  for (size_t i = 0; i < Metrics::kMaxModels + 10; ++i)
    m.add_tokens("model-" + std::to_string(i), 10, 1);
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_prompt_tokens_total{model="model-0"})"), 10);
  EXPECT_EQ(value_of(t, R"(llm_prompt_tokens_total{model="model-31"})"), 10);
  EXPECT_EQ(value_of(t, R"(llm_prompt_tokens_total{model="model-32"})"), -1);
  EXPECT_EQ(value_of(t, R"(llm_prompt_tokens_total{model="other"})"), 100);  // 10 late models
  EXPECT_EQ(value_of(t, R"(llm_generated_tokens_total{model="other"})"), 10);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.on_token_gap("we\"ird\\name\n", 0.01);
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_inter_token_latency_seconds_count{model="we\"ird\\name\n"})"), 1);
}

TEST(Metrics, RejectionsFromStatusesAndCalls) {
  Metrics m;
  m.observe_request("/api/chat", 503, "", 0);
  m.observe_request("/api/chat", 401, "", 0);
  m.observe_request("/api/chat", 403, "", 0);
  m.observe_request("/v1/chat/completions", 429, "", 0);
  m.observe_request("/health", 503, "", 0);  // a state reported, not a refusal
  m.count_rejected("rate_limit");
  m.count_rejected("made up");  // not a reason: counted as the default, queue_full
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_rejected_requests_total{reason="auth"})"), 2);
  EXPECT_EQ(value_of(t, R"(llm_rejected_requests_total{reason="rate_limit"})"), 2);
  EXPECT_EQ(value_of(t, R"(llm_rejected_requests_total{reason="queue_full"})"), 2);
}

TEST(Metrics, CacheHitsStartAtZero) {
  Metrics m;
  EXPECT_EQ(value_of(m.render({}), R"(llm_cache_hits_total{cache="prefix"})"), 0);
  m.count_cache_hit("prefix");
  m.count_cache_hit("response");
  m.count_cache_hit("response");
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_cache_hits_total{cache="prefix"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_cache_hits_total{cache="response"})"), 2);
}

TEST(Metrics, GaugesComeFromTheScrape) {
  Metrics m;
  Metrics::Gauges g;
  g.models.push_back({"a:latest", 1000, 4, 3, 5});
  g.models.push_back({"b:latest", 500, 4, 1, 0});
  g.process.resident_bytes = 12345;
  g.process.cpu_seconds = 1.5;
  g.gpus.push_back({0, "Test GPU", 8000, 2000, 0.25});
  const std::string t = m.render(g);
  EXPECT_EQ(value_of(t, "llm_queue_depth"), 5);
  EXPECT_EQ(value_of(t, "llm_active_sequences"), 4);
  EXPECT_EQ(value_of(t, "llm_kv_cache_usage_ratio"), 0.5);
  EXPECT_EQ(value_of(t, "llm_models_loaded"), 2);
  EXPECT_EQ(value_of(t, R"(llm_model_memory_bytes{model="a:latest"})"), 1000);
  EXPECT_EQ(value_of(t, "process_resident_memory_bytes"), 12345);
  EXPECT_EQ(value_of(t, "process_cpu_seconds_total"), 1.5);
  EXPECT_EQ(value_of(t, R"(nvidia_smi_utilization_gpu{gpu="0",name="Test GPU"})"), 0.25);
  EXPECT_EQ(value_of(t, R"(nvidia_smi_memory_used_bytes{gpu="0",name="Test GPU"})"), 2000);
  // Without GPUs, no GPU families at all.
  EXPECT_EQ(m.render({}).find("nvidia_smi"), std::string::npos);
}

TEST(Metrics, RouteLabels) {
  EXPECT_EQ(Metrics::route_label("/api/generate"), "/api/generate");
  EXPECT_EQ(Metrics::route_label("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(Metrics::route_label("/v1/models/tiny"), "/v1/models");
  EXPECT_EQ(Metrics::route_label("/ui/app.js"), "/ui");
  EXPECT_EQ(Metrics::route_label("/api/hearth/conversations/42"), "/api/hearth/conversations");
  EXPECT_EQ(Metrics::route_label("/api/generatex"), "other");
  EXPECT_EQ(Metrics::route_label(""), "other");
}

// An exchange that keeps what it was sent.
struct FakeExchange : Exchange {
  HttpRequest req;
  int status = 0;
  int ended = 0;
  const HttpRequest& request() const override { return req; }
  size_t read_body(char*, size_t) override { return 0; }
  bool body_streamed() const override { return false; }
  void respond(int s, std::string, std::string, Headers) override { status = s; }
  void begin_stream(int s, std::string, Headers) override { status = s; }
  void write(std::string) override {}
  void end_stream() override { ++ended; }
  void on_disconnect(std::function<void()>) override {}
  bool disconnected() const override { return false; }
};

TEST(Metrics, MeteredExchangeRecordsOnceWithItsModel) {
  Metrics m;
  auto inner = std::make_shared<FakeExchange>();
  inner->req.path = "/api/chat";
  {
    auto ex = metered(inner, m);
    meter_model(*ex, "tiny:latest");
    ex->begin_stream(200, "application/x-ndjson");
    ex->write("{}\n");
    ex->end_stream();
    ex->respond(500, "text/plain", "late");  // an exchange answers once
  }
  EXPECT_EQ(inner->ended, 1);
  const std::string t = m.render({});
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/chat",status="200"})"), 1);
  EXPECT_EQ(value_of(t, R"(llm_requests_total{route="/api/chat",status="500"})"), -1);
  EXPECT_EQ(
      value_of(t, R"(llm_inference_duration_seconds_count{model="tiny:latest",route="/api/chat"})"),
      1);
  meter_model(*inner, "x");  // not metered: nothing happens
}

TEST(Metrics, AStreamNeverEndedIsCountedWhenDropped) {
  Metrics m;
  auto inner = std::make_shared<FakeExchange>();
  inner->req.path = "/api/generate";
  metered(inner, m)->begin_stream(200, "application/x-ndjson");
  EXPECT_EQ(value_of(m.render({}), R"(llm_requests_total{route="/api/generate",status="200"})"), 1);
}

}  // namespace
}  // namespace hearth::server
