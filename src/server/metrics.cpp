#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>

namespace hearth::server {

namespace {

// Upper bounds of the histograms' buckets, seconds. A whole answer takes from
// a few tens of milliseconds (a cached one) to minutes (a long generation on a
// CPU); a first token waits for the queue and the prompt; a token on a CPU
// takes from about 5 ms (a small model) to a few hundred (a 70B).
const std::vector<double> kDurationBounds = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                             10,   20,  30,   60,  120, 300};
const std::vector<double> kFirstTokenBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,    2.5,   5,    10,  30,   60};
const std::vector<double> kTokenGapBounds = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06,
                                             0.08,  0.1,    0.15,  0.25, 0.5,  1};

constexpr std::array<std::string_view, 23> kRoutes = {"/",
                                                      "/health",
                                                      "/metrics",
                                                      "/api/generate",
                                                      "/api/chat",
                                                      "/api/embed",
                                                      "/api/embeddings",
                                                      "/api/tags",
                                                      "/api/show",
                                                      "/api/ps",
                                                      "/api/version",
                                                      "/api/create",
                                                      "/api/copy",
                                                      "/api/delete",
                                                      "/api/pull",
                                                      "/api/push",
                                                      "/v1/completions",
                                                      "/v1/models",
                                                      "/v1/chat/completions",
                                                      "/v1/embeddings",
                                                      "/v1/messages",
                                                      "/v1/messages/count_tokens",
                                                      "/v1/responses"};

// A label value in the exposition format: backslash, quote and newline escaped.
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (v == std::numeric_limits<double>::infinity()) return "+Inf";
  return fmt::format("{}", v);
}

// {a="x",b="y"} from names and values (and "" when there are none).
std::string labels(const std::vector<std::string_view>& names,
                   const std::vector<std::string>& values, std::string_view extra = {}) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    s += fmt::format("{}{}=\"{}\"", s.empty() ? "" : ",", names[i], escape(values[i]));
  if (!extra.empty()) s += fmt::format("{}{}", s.empty() ? "" : ",", extra);
  return s.empty() ? "" : "{" + s + "}";
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, std::string_view name, const std::string& lbls, double v) {
  out += fmt::format("{}{} {}\n", name, lbls, number(v));
}

std::string status_label(int status) {
  return status >= 100 && status <= 599 ? std::to_string(status) : "other";
}

}  // namespace

std::string_view Metrics::route_label(std::string_view path) {
  for (auto r : kRoutes)
    if (path == r) return r;
  if (path.starts_with("/api/blobs/")) return "/api/blobs";
  if (path.starts_with("/v1/models/")) return "/v1/models";
  if (path.starts_with("/v1/responses/")) return "/v1/responses";
  if (path.starts_with("/ui/")) return "/ui";  // the web page's assets
  if (path == "/api/hearth/conversations" || path.starts_with("/api/hearth/conversations/"))
    return "/api/hearth/conversations";
  return "other";
}

std::string Metrics::model_label(std::string_view model) {
  if (auto it = models_.find(model); it != models_.end()) return *it;
  if (models_.size() >= kMaxModels) return "other";
  return *models_.emplace(model).first;
}

void Metrics::observe(std::map<Labels, Histogram>& family, const std::vector<double>& bounds,
                      Labels lbls, double value) {
  auto& h = family[std::move(lbls)];
  if (h.counts.empty()) h.counts.assign(bounds.size(), 0);
  const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  if (static_cast<size_t>(bucket) < bounds.size()) ++h.counts[static_cast<size_t>(bucket)];
  h.sum += value;
  ++h.count;
}

void Metrics::observe_request(std::string_view path, int status, std::string_view model,
                              double seconds) {
  const std::string route(route_label(path));
  std::lock_guard lock(mu_);
  requests_[{route, status_label(status)}] += 1;
  // A health check answering 503 reports a state; it refuses no request.
  if (route == "/health") status = 200;
  if (status == 401 || status == 403) rejected_[{"auth"}] += 1;
  if (status == 429) rejected_[{"rate_limit"}] += 1;
  if (status == 503) rejected_[{"queue_full"}] += 1;
  if (!model.empty()) observe(duration_, kDurationBounds, {model_label(model), route}, seconds);
}

void Metrics::on_first_token(std::string_view model, double seconds) {
  std::lock_guard lock(mu_);
  observe(first_token_, kFirstTokenBounds, {model_label(model)}, seconds);
}

void Metrics::on_token_gap(std::string_view model, double seconds) {
  std::lock_guard lock(mu_);
  observe(token_gap_, kTokenGapBounds, {model_label(model)}, seconds);
}

void Metrics::add_tokens(std::string_view model, int64_t prompt, int64_t generated) {
  std::lock_guard lock(mu_);
  const std::string m = model_label(model);
  prompt_tokens_[{m}] += static_cast<double>(std::max<int64_t>(prompt, 0));
  generated_tokens_[{m}] += static_cast<double>(std::max<int64_t>(generated, 0));
}

void Metrics::count_cache_hit(std::string_view cache) {
  std::lock_guard lock(mu_);
  cache_hits_[{cache == "prefix" ? "prefix" : "response"}] += 1;
}

void Metrics::count_rejected(std::string_view reason) {
  std::lock_guard lock(mu_);
  const std::string r =
      reason == "auth" || reason == "rate_limit" ? std::string(reason) : "queue_full";
  rejected_[{r}] += 1;
}

std::string Metrics::render(const Gauges& g) {
  std::string out;
  out.reserve(8192);
  auto counters = [&](std::string_view name, std::string_view help,
                      const std::vector<std::string_view>& names,
                      const std::map<Labels, double>& m) {
    header(out, name, "counter", help);
    for (const auto& [l, v] : m) sample(out, name, labels(names, l), v);
  };
  auto histograms = [&](std::string_view name, std::string_view help,
                        const std::vector<std::string_view>& names,
                        const std::vector<double>& bounds, const std::map<Labels, Histogram>& m) {
    header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (const auto& [l, h] : m) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += h.counts[i];
        sample(out, bucket, labels(names, l, fmt::format("le=\"{}\"", number(bounds[i]))),
               static_cast<double>(cumulative));
      }
      sample(out, bucket, labels(names, l, "le=\"+Inf\""), static_cast<double>(h.count));
      sample(out, std::string(name) + "_sum", labels(names, l), h.sum);
      sample(out, std::string(name) + "_count", labels(names, l), static_cast<double>(h.count));
    }
  };
  std::map<Labels, double> memory;
  int64_t queued = 0, active = 0, slots = 0;
  {
    std::lock_guard lock(mu_);
    counters("llm_requests_total", "Requests answered, by route and HTTP status.",
             {"route", "status"}, requests_);
    histograms("llm_inference_duration_seconds",
               "Time from a request's arrival to the end of its answer, for requests naming a "
               "model.",
               {"model", "route"}, kDurationBounds, duration_);
    histograms("llm_time_to_first_token_seconds",
               "Time from a generation request's arrival to its first piece of text.", {"model"},
               kFirstTokenBounds, first_token_);
    histograms("llm_inter_token_latency_seconds",
               "Time between consecutive pieces of generated text.", {"model"}, kTokenGapBounds,
               token_gap_);
    counters("llm_prompt_tokens_total", "Prompt tokens of generation requests.", {"model"},
             prompt_tokens_);
    counters("llm_generated_tokens_total", "Tokens generated.", {"model"}, generated_tokens_);
    std::map<Labels, double> hits = {{{"prefix"}, 0}, {{"response"}, 0}};
    for (const auto& [l, v] : cache_hits_) hits[l] = v;
    counters("llm_cache_hits_total",
             "Requests served in part from a cached prompt prefix, or whole from the response "
             "cache.",
             {"cache"}, hits);
    std::map<Labels, double> rejected = {{{"auth"}, 0}, {{"queue_full"}, 0}, {{"rate_limit"}, 0}};
    for (const auto& [l, v] : rejected_) rejected[l] = v;
    counters("llm_rejected_requests_total", "Requests refused, by reason.", {"reason"}, rejected);
    // The loaded models' names come from the store; bounded like the others.
    for (const auto& m : g.models) {
      memory[{model_label(m.name)}] += static_cast<double>(m.bytes);
      queued += m.queued, active += m.active, slots += m.slots;
    }
  }
  header(out, "llm_queue_depth", "gauge", "Requests waiting for a sequence slot, all models.");
  sample(out, "llm_queue_depth", "", static_cast<double>(queued));
  header(out, "llm_active_sequences", "gauge", "Sequences being decoded, all models.");
  sample(out, "llm_active_sequences", "", static_cast<double>(active));
  header(out, "llm_kv_cache_usage_ratio", "gauge",
         "Share of the loaded models' KV cache slots held by running sequences.");
  sample(out, "llm_kv_cache_usage_ratio", "",
         slots > 0 ? static_cast<double>(active) / static_cast<double>(slots) : 0.0);
  header(out, "llm_models_loaded", "gauge", "Models loaded.");
  sample(out, "llm_models_loaded", "", static_cast<double>(g.models.size()));
  header(out, "llm_model_memory_bytes", "gauge",
         "Estimated memory of each loaded model: weights, KV caches and scratch.");
  for (const auto& [l, v] : memory) sample(out, "llm_model_memory_bytes", labels({"model"}, l), v);

  header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  sample(out, "process_resident_memory_bytes", "", static_cast<double>(g.process.resident_bytes));
  header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  sample(out, "process_cpu_seconds_total", "", g.process.cpu_seconds);
  header(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch in seconds.");
  sample(out, "process_start_time_seconds", "", g.process.start_time_seconds);

  if (!g.gpus.empty()) {
    auto gpu_labels = [](const sysinfo::Gpu& gpu) {
      return labels({"gpu", "name"}, {std::to_string(gpu.index), gpu.name});
    };
    header(out, "nvidia_smi_utilization_gpu", "gauge",
           "Share of the last sample period a GPU kernel ran (0 to 1), from NVML.");
    for (const auto& gpu : g.gpus)
      sample(out, "nvidia_smi_utilization_gpu", gpu_labels(gpu), gpu.utilization);
    header(out, "nvidia_smi_memory_used_bytes", "gauge", "GPU memory in use, from NVML.");
    for (const auto& gpu : g.gpus)
      sample(out, "nvidia_smi_memory_used_bytes", gpu_labels(gpu),
             static_cast<double>(gpu.memory_used));
    header(out, "nvidia_smi_memory_total_bytes", "gauge", "GPU memory, from NVML.");
    for (const auto& gpu : g.gpus)
      sample(out, "nvidia_smi_memory_total_bytes", gpu_labels(gpu),
             static_cast<double>(gpu.memory_total));
  }
  return out;
}

namespace {

// The exchange as the routes see it, recording the answer once it is sent.
class MeteredExchange final : public Exchange {
 public:
  MeteredExchange(std::shared_ptr<Exchange> inner, Metrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics), t0_(std::chrono::steady_clock::now()) {}
  ~MeteredExchange() override {
    // A stream whose handler never ended it (the handler failed) still counts.
    if (stream_status_ != 0) record(stream_status_);
  }

  const HttpRequest& request() const override { return inner_->request(); }
  size_t read_body(char* buf, size_t cap) override { return inner_->read_body(buf, cap); }
  bool body_streamed() const override { return inner_->body_streamed(); }
  void respond(int status, std::string content_type, std::string body, Headers extra) override {
    record(status);
    inner_->respond(status, std::move(content_type), std::move(body), std::move(extra));
  }
  void begin_stream(int status, std::string content_type, Headers extra) override {
    stream_status_ = status;
    inner_->begin_stream(status, std::move(content_type), std::move(extra));
  }
  void write(std::string chunk) override { inner_->write(std::move(chunk)); }
  void end_stream() override {
    if (stream_status_ != 0) record(stream_status_);
    inner_->end_stream();
  }
  void on_disconnect(std::function<void()> f) override { inner_->on_disconnect(std::move(f)); }
  bool disconnected() const override { return inner_->disconnected(); }

  void set_model(std::string_view model) {
    std::lock_guard lock(mu_);
    model_ = model;
  }

 private:
  void record(int status) {
    if (recorded_.exchange(true)) return;  // an exchange answers once
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    std::string model;
    {
      std::lock_guard lock(mu_);
      model = model_;
    }
    metrics_.observe_request(inner_->request().path, status, model, s);
  }

  std::shared_ptr<Exchange> inner_;
  Metrics& metrics_;
  const std::chrono::steady_clock::time_point t0_;
  std::atomic<int> stream_status_{0};
  std::atomic<bool> recorded_{false};
  std::mutex mu_;
  std::string model_;
};

}  // namespace

std::shared_ptr<Exchange> metered(std::shared_ptr<Exchange> ex, Metrics& metrics) {
  return std::make_shared<MeteredExchange>(std::move(ex), metrics);
}

void meter_model(Exchange& ex, std::string_view model) {
  if (auto* m = dynamic_cast<MeteredExchange*>(&ex)) m->set_model(model);
}

}  // namespace hearth::server
