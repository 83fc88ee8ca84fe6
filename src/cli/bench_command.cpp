// `hearth bench MODEL`: prompt-processing and generation speed like llama-bench
// (median of repetitions, after a warm-up), with a roofline beside each:
// generation reads (about) every weight once per token, so
// tokens/s x bytes per token / the machine's read bandwidth says how close it runs
// to what the memory allows; prompt processing is bound by arithmetic, so
// tokens/s x the matrices' multiply-adds per token / the int8 multiply-add rate
// measured in the same run says how close it runs to what the cores allow.
// With -d (llama-bench's depth), each test runs after that many tokens already
// in the KV cache, as in a long chat: generation then reads the cache too, and
// attention's work grows with it.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/limits.h"
#include "engine/runtime.h"
#include "engine/session.h"
#include "gguf/reader.h"
#include "kernels/bandwidth.h"
#include "kernels/cpu_features.h"
#include "model/model.h"
#include "store/resolve.h"

namespace hearth::cli {
namespace {

struct BenchOptions {
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t depth = 0;           // tokens in the KV cache before each test
  std::optional<int> threads;  // nullopt: one per physical core
  int reps = 5;
  bool json = false;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr int kMaxRepetitions = 1000;

// -p, -n and -r in range before anything is loaded: each count at most
// engine::kMaxContext, so that their sum cannot overflow.
void check_counts(const BenchOptions& o) {
  auto check = [](const char* flag, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      throw std::invalid_argument(
          fmt::format("bench: {} must be between {} and {}, got {}", flag, lo, hi, v));
  };
  check("-p (prompt tokens)", o.n_prompt, 0, engine::kMaxContext);
  check("-n (generated tokens)", o.n_gen, 0, engine::kMaxContext);
  check("-d (depth)", o.depth, 0, engine::kMaxContext);
  check("-r (repetitions)", o.reps, 1, kMaxRepetitions);
  if (o.n_prompt + o.n_gen == 0) throw std::invalid_argument("bench: -p and -n are both 0");
}

// Multiply-adds per prompt token in the weight matrices (the int8 kernels'
// work): each layer matrix once per token, but the output matrix and the last
// block's output projection and feed-forward once per prompt (they run only
// over the token whose logits are wanted: Model::forward_llama). Attention's
// own products (f32, growing with the context) are not counted.
double matrix_macs_per_prompt_token(const model::Model& m, int64_t n_prompt) {
  const gguf::GgufFile& f = m.file();
  const std::string last = "blk." + std::to_string(m.hparams().n_layer - 1) + ".";
  double macs = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims != 2 || !t.name.starts_with("blk.")) continue;
    const bool once = t.name.starts_with(last) && !t.name.starts_with(last + "attn_q") &&
                      !t.name.starts_with(last + "attn_k") && !t.name.starts_with(last + "attn_v");
    macs += static_cast<double>(t.n_elements()) / (once ? std::max<int64_t>(n_prompt, 1) : 1);
  }
  const gguf::TensorInfo* out = f.find_tensor("output.weight");
  if (!out) out = f.find_tensor("token_embd.weight");  // tied embeddings
  if (out && n_prompt > 0) macs += static_cast<double>(out->n_elements()) / n_prompt;
  return macs;
}

void run_bench(const BenchOptions& o) {
  check_counts(o);
  engine::Runtime rt = engine::Runtime::load(store::resolve_model(o.model), o.threads);
  model::Model* model = rt.model.get();
  const auto& hp = model->hparams();
  // The benchmark's own context: the depth, then the prompt or the generated
  // tokens (each test starts again from the depth), must fit.
  const int64_t n_ctx = std::max(engine::kMinContext, o.depth + std::max(o.n_prompt, o.n_gen) + 1);
  try {
    engine::validate_context(hp, n_ctx);
  } catch (const engine::ParamError& e) {
    throw std::invalid_argument(
        fmt::format("bench: -d {}, -p {} and -n {} need a context of {} tokens: {}", o.depth,
                    o.n_prompt, o.n_gen, n_ctx, e.what()));
  }
  engine::Session session(*model, {.n_ctx = n_ctx, .n_batch = 512});
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> any_token(0, static_cast<int32_t>(hp.n_vocab - 1));
  std::vector<int32_t> context(static_cast<size_t>(o.depth)),
      prompt(static_cast<size_t>(o.n_prompt));
  for (auto& t : context) t = any_token(rng);
  for (auto& t : prompt) t = any_token(rng);
  // The depth is evaluated once, untimed; each test cuts the cache back to it.
  if (o.depth > 0) session.eval(context);

  std::vector<double> pp, tg;
  for (int rep = -1; rep < o.reps; ++rep) {  // rep -1 warms up
    if (o.n_prompt > 0) {
      session.truncate(o.depth);
      const auto t0 = std::chrono::steady_clock::now();
      session.eval(prompt);
      if (rep >= 0) pp.push_back(static_cast<double>(o.n_prompt) / seconds_since(t0));
    }
    if (o.n_gen > 0) {
      session.truncate(o.depth);
      int32_t tok = hp.n_vocab > 1 ? 1 : 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < o.n_gen; ++i) {
        const auto logits = session.eval(std::span(&tok, 1));
        tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      if (rep >= 0) tg.push_back(static_cast<double>(o.n_gen) / seconds_since(t0));
    }
  }
  const double pp_tps = median(pp), tg_tps = median(tg);
  // A generated token reads the weights and the K and V of every position
  // before it: on average depth + (n_gen + 1) / 2 of them.
  const uint64_t weight_bytes = model->bytes_per_token();
  const uint64_t kv_bytes =
      o.n_gen > 0 ? engine::kv_cache_bytes(hp, o.depth + (o.n_gen + 1) / 2, backend::KvType::F16)
                  : 0;
  const uint64_t bytes = weight_bytes + kv_bytes;
  const double bw = kernels::measure_read_bandwidth(*rt.pool);
  const double roofline = bw > 0 ? tg_tps * static_cast<double>(bytes) / (bw * 1e9) : 0;
  const double int8_rate = kernels::measure_int8_rate(*rt.pool);
  const double pp_macs = matrix_macs_per_prompt_token(*model, o.n_prompt);
  const double pp_roofline = int8_rate > 0 ? pp_tps * pp_macs / (int8_rate * 1e9) : 0;
  const std::string file = model->file().path();

  if (o.json) {
    const nlohmann::json j = {{"model", file},
                              {"n_params", model->n_params()},
                              {"threads", rt.pool->size()},
                              {"n_prompt", o.n_prompt},
                              {"n_gen", o.n_gen},
                              {"depth", o.depth},
                              {"reps", o.reps},
                              {"prompt_tokens_per_s", pp_tps},
                              {"gen_tokens_per_s", tg_tps},
                              {"model_bytes", weight_bytes},
                              {"kv_bytes_per_token", kv_bytes},
                              {"read_bandwidth_gbs", bw},
                              {"roofline_fraction", roofline},
                              {"prompt_macs_per_token", pp_macs},
                              {"int8_gmacs_per_s", int8_rate},
                              {"prompt_roofline_fraction", pp_roofline}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model: %s (%s, %.1f M parameters, %.1f MB of weights read per token), %d threads\n",
              file.c_str(), hp.arch_name.c_str(), static_cast<double>(model->n_params()) / 1e6,
              static_cast<double>(weight_bytes) / 1e6, rt.pool->size());
  if (kv_bytes > 0)
    std::printf("generation also reads %.2f MB of KV cache per token (at its mean position)\n",
                static_cast<double>(kv_bytes) / 1e6);
  // llama-bench's test names: pp512, tg128, "pp512 @ d4096".
  auto test_name = [&](const char* kind, int64_t n) {
    return o.depth > 0 ? fmt::format("{}{} @ d{}", kind, n, o.depth) : fmt::format("{}{}", kind, n);
  };
  const int w = static_cast<int>(
      std::max({size_t{8}, test_name("pp", o.n_prompt).size(), test_name("tg", o.n_gen).size()}));
  std::printf("| %-*s | %12s | %15s | %14s | %10s |\n", w, "test", "tokens/s", "GB/s read",
              "G int8 MAC/s", "roofline");
  std::printf("|%s|--------------|-----------------|----------------|------------|\n",
              std::string(static_cast<size_t>(w) + 2, '-').c_str());
  if (o.n_prompt > 0) {
    const std::string frac = int8_rate > 0 ? fmt::format("{:.1f}%", pp_roofline * 100) : "-";
    std::printf("| %-*s | %12.2f | %15s | %14.1f | %10s |\n", w,
                test_name("pp", o.n_prompt).c_str(), pp_tps, "-", pp_tps * pp_macs / 1e9,
                frac.c_str());
  }
  if (o.n_gen > 0)
    std::printf("| %-*s | %12.2f | %15.2f | %14s | %9.1f%% |\n", w,
                test_name("tg", o.n_gen).c_str(), tg_tps, tg_tps * static_cast<double>(bytes) / 1e9,
                "-", roofline * 100);
  std::printf(
      "memory read bandwidth %.1f GB/s, int8 multiply-add rate %.1f G/s (%s); tokens/s are "
      "medians of %d repetitions\n",
      bw, int8_rate, std::string(kernels::simd_level_name(kernels::best_simd_level())).c_str(),
      o.reps);
  if (roofline > 1)
    std::printf(
        "(above 100%%: the weights fit in the CPU cache, so they are not read from memory)\n");
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd =
      app.add_subcommand("bench", "Measure prompt and generation speed against the roofline");
  cmd->add_option("model", o->model, "Model name (tiny-kjv) or GGUF file")->required();
  cmd->add_option("-p,--n-prompt", o->n_prompt,
                  "Prompt tokens processed as one batch (default 512)");
  cmd->add_option("-n,--n-gen", o->n_gen, "Tokens generated one at a time (default 128)");
  cmd->add_option("-d,--n-depth", o->depth,
                  "Tokens already in the KV cache before each test (a long chat; default 0)");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: one per physical core)");
  cmd->add_option("-r,--repetitions", o->reps, "Repetitions (the median is reported; default 5)");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace hearth::cli
