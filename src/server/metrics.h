// The server's Prometheus metrics, served as the text exposition format
// (version 0.0.4) at GET /metrics:
//
//   llm_requests_total{route,status}                  counter
//   llm_inference_duration_seconds{model,route}       histogram (request start to answer end)
//   llm_time_to_first_token_seconds{model}            histogram (request start to first text)
//   llm_inter_token_latency_seconds{model}            histogram (between pieces of text)
//   llm_prompt_tokens_total{model}, llm_generated_tokens_total{model}     counters
//   llm_cache_hits_total{cache="prefix"|"response"}   counter
//   llm_rejected_requests_total{reason="queue_full"|"rate_limit"|"auth"}  counter
//   llm_queue_depth, llm_active_sequences, llm_kv_cache_usage_ratio,
//   llm_models_loaded, llm_model_memory_bytes{model}  gauges, read at scrape time
//   process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds
//   nvidia_smi_utilization_gpu{gpu,name}, nvidia_smi_memory_used_bytes{gpu,name},
//   nvidia_smi_memory_total_bytes{gpu,name}           only where NVML is present
//
// Label values are bounded, so a client cannot grow the series without end:
// routes come from a fixed list (else "other"); models are names the store
// resolved, the first kMaxModels of them (later ones are "other"); caches and
// reasons are fixed words. No label ever carries request content.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.h"
#include "sysinfo/sysinfo.h"

namespace hearth::server {

class Metrics {
 public:
  static constexpr size_t kMaxModels = 32;

  // A request answered through handle() (the metered exchange calls it):
  // counts it by route and status, counts 401/403/429/503 as rejections
  // (except /health's 503, which reports a state),
  // and times it by model when the route named one (meter_model).
  void observe_request(std::string_view path, int status, std::string_view model, double seconds);

  // Token level, from the inference path. `model`: a name the store resolved.
  void on_first_token(std::string_view model, double seconds);  // since the request arrived
  void on_token_gap(std::string_view model, double seconds);    // since the previous piece
  void add_tokens(std::string_view model, int64_t prompt, int64_t generated);
  void count_cache_hit(std::string_view cache);  // "prefix" or "response"
  // A rejection answered outside handle() (observe_request counts the others).
  void count_rejected(std::string_view reason);  // "queue_full", "rate_limit" or "auth"

  // What the gauges show, gathered at scrape time by the caller.
  struct LoadedModel {
    std::string name;    // as listed by the store
    uint64_t bytes = 0;  // weights + KV caches + scratch
    int slots = 0;       // sequences it can decode together
    int active = 0;      // sequences in a slot
    int64_t queued = 0;  // requests waiting
  };
  struct Gauges {
    std::vector<LoadedModel> models;
    sysinfo::Process process;
    std::vector<sysinfo::Gpu> gpus;
  };
  // Not const: a loaded model's name is admitted to the model labels.
  std::string render(const Gauges& gauges);

  // The route label of a request path: one of a fixed list, else "other".
  static std::string_view route_label(std::string_view path);

 private:
  using Labels = std::vector<std::string>;
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  std::string model_label(std::string_view model);  // under mu_; admits it while there is room
  void observe(std::map<Labels, Histogram>& family, const std::vector<double>& bounds,
               Labels labels, double value);  // under mu_

  mutable std::mutex mu_;
  std::set<std::string, std::less<>> models_;  // the model label values admitted
  std::map<Labels, double> requests_, prompt_tokens_, generated_tokens_, cache_hits_, rejected_;
  std::map<Labels, Histogram> duration_, first_token_, token_gap_;
};

// `ex` wrapped so that its answer is recorded in `metrics` (route, status,
// model, seconds since this call) when it is sent: at respond(), or at
// end_stream() for a stream. Everything else passes through.
std::shared_ptr<Exchange> metered(std::shared_ptr<Exchange> ex, Metrics& metrics);

// Names the model of a metered request (a name the store resolved); a no-op
// for an exchange that metered() did not wrap.
void meter_model(Exchange& ex, std::string_view model);

}  // namespace hearth::server
