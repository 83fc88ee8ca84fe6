// `hearth doctor`: what this machine has (CPU and its SIMD features, cores,
// memory, free disk in the store, NVIDIA GPUs), how fast it reads memory and
// multiplies int8, which model sizes and quantizations fit in its memory with
// the KV cache of a chosen context, the generation speed the bandwidth allows
// (each token reads every weight once: tokens/s <= bandwidth / bytes of
// weights), and warnings about an exposed server.
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "auth/keys.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "engine/limits.h"
#include "kernels/bandwidth.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "model/memory.h"
#include "quant/mix.h"
#include "quant/rows.h"
#include "store/store.h"
#include "sysinfo/sysinfo.h"
#include "threads/thread_pool.h"

namespace hearth::cli {

namespace {

struct DoctorOptions {
  int64_t ctx = 4096;
  bool json = false;
};

// Shapes of the llama family at the sizes people ask about (Llama 2 7B and
// 13B, LLaMA 30B, Llama 2 70B with grouped-query attention).
struct Size {
  const char* name;
  int64_t n_embd, n_layer, n_ff, n_head, n_head_kv, n_vocab;
};
constexpr Size kSizes[] = {{"7B", 4096, 32, 11008, 32, 32, 32000},
                           {"13B", 5120, 40, 13824, 40, 40, 32000},
                           {"30B", 6656, 60, 17920, 52, 52, 32000},
                           {"70B", 8192, 80, 28672, 64, 8, 32000}};
constexpr const char* kQuants[] = {"q4_0", "q4_k_m", "q5_1", "q8_0", "f16"};

model::Hparams hparams(const Size& s) {
  model::Hparams h;
  h.arch_name = "llama";
  h.n_vocab = s.n_vocab;
  h.n_ctx_train = 4096;
  h.n_embd = s.n_embd;
  h.n_layer = s.n_layer;
  h.n_ff = s.n_ff;
  h.n_head = s.n_head;
  h.n_head_kv = s.n_head_kv;
  h.head_dim = s.n_embd / s.n_head;
  return h;
}

// Bytes of the weights of `s` quantized to `quant`, tensor by tensor as
// `hearth quantize` would choose their types (quant/mix.h). `embd` gets the
// token embedding's share, which a token reads one row of rather than all.
uint64_t weight_bytes(const Size& s, const char* quant, uint64_t* embd) {
  const auto ft = quant::find_file_type(quant);
  if (!ft) throw std::logic_error(std::string("unknown file type ") + quant);
  const auto h = hparams(s);
  struct T {
    std::string name;
    uint64_t ne0, rows;
  };
  std::vector<T> ts = {
      {"token_embd.weight", static_cast<uint64_t>(s.n_embd), static_cast<uint64_t>(s.n_vocab)},
      {"output_norm.weight", static_cast<uint64_t>(s.n_embd), 1},
      {"output.weight", static_cast<uint64_t>(s.n_embd), static_cast<uint64_t>(s.n_vocab)}};
  const auto e = static_cast<uint64_t>(s.n_embd), q = static_cast<uint64_t>(h.q_dim()),
             kv = static_cast<uint64_t>(h.kv_dim()), ff = static_cast<uint64_t>(s.n_ff);
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    ts.push_back({b + "attn_norm.weight", e, 1});
    ts.push_back({b + "attn_q.weight", e, q});
    ts.push_back({b + "attn_k.weight", e, kv});
    ts.push_back({b + "attn_v.weight", e, kv});
    ts.push_back({b + "attn_output.weight", q, e});
    ts.push_back({b + "ffn_norm.weight", e, 1});
    ts.push_back({b + "ffn_gate.weight", e, ff});
    ts.push_back({b + "ffn_up.weight", e, ff});
    ts.push_back({b + "ffn_down.weight", ff, e});
  }
  std::vector<quant::TensorShape> shapes;
  for (const auto& t : ts)
    shapes.push_back({t.name, gguf::TensorType::F16, t.rows == 1 ? 1u : 2u, t.ne0});
  const quant::ModelShape ms{"llama", static_cast<int>(s.n_layer), 0, static_cast<int>(s.n_head),
                             static_cast<int>(s.n_head_kv)};
  const auto types = quant::choose_tensor_types(*ft, ms, shapes);
  uint64_t total = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto type = ts[i].rows == 1 ? gguf::TensorType::F32 : types[i];
    const uint64_t bytes = gguf::row_bytes(type, ts[i].ne0) * ts[i].rows;
    if (i == 0 && embd) *embd = bytes;
    total += bytes;
  }
  return total;
}

// Integer operations per second (1e9; a multiply-add is two), of a q8_0 matrix-matrix
// product the size of a 7B layer's projection, batched like a prompt: the
// compute a prompt's evaluation is bound by.
double measure_int8_gops(threads::ThreadPool& pool) {
  constexpr int64_t rows = 4096, cols = 4096, tokens = 64;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(tokens * cols)),
      y(static_cast<size_t>(tokens * rows));
  for (auto& v : w) v = u(rng);
  for (auto& v : x) v = u(rng);
  std::vector<uint8_t> q(gguf::row_bytes(gguf::TensorType::Q8_0, cols) * rows);
  const uint64_t row = gguf::row_bytes(gguf::TensorType::Q8_0, cols);
  for (int64_t r = 0; r < rows; ++r)
    quant::quantize_row(gguf::TensorType::Q8_0, w.data() + r * cols, q.data() + r * row, cols);
  const kernels::WeightMatrix m(gguf::TensorType::Q8_0, q.data(), rows, cols);
  double best = 0;
  for (int rep = -1; rep < 5; ++rep) {  // rep -1 warms up
    const auto t0 = std::chrono::steady_clock::now();
    m.multiply(x.data(), tokens, y.data(), pool);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep >= 0 && s > 0) best = std::max(best, 2.0 * rows * cols * tokens / s / 1e9);
  }
  return best;
}

// One decimal: a table of sizes, not an exact figure.
std::string gib(uint64_t b) { return engine::format_gib(b, 1); }

bool world_readable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH);
}

bool is_loopback(const std::string& host) {
  return host.empty() || host == "localhost" || host.starts_with("127.") || host == "::1" ||
         host == "[::1]";
}

// What could expose this machine's server or its files to others.
std::vector<std::string> warnings(const std::string& home, const std::string& store) {
  std::vector<std::string> w;
  // The address `hearth serve` would bind: HEARTH_HOST, else the config file's "host".
  std::string bind = env("HEARTH_HOST");
  const std::string cfg_path = home + "/config.json";
  if (bind.empty()) {
    std::ifstream in(cfg_path);
    if (in) {
      try {
        const auto cfg = nlohmann::json::parse(in);
        if (cfg.is_object() && cfg.contains("host") && cfg["host"].is_string())
          bind = cfg["host"].get<std::string>();
      } catch (const std::exception&) {
        w.push_back(fmt::format("the server's config file {} is not valid JSON", cfg_path));
      }
    }
  }
  const std::string keys = home + "/keys.db";
  if (!bind.empty()) {
    std::string host;
    int port = 0;
    parse_host(bind, host, port);
    // As `hearth serve` decides: an active key, not a keys file, is what it needs.
    bool active = false;
    std::string why = keys + " is missing";
    if (std::filesystem::exists(keys)) {
      why = "every key in " + keys + " is revoked or expired";
      try {
        active = auth::KeyStore(keys).any_active();
      } catch (const std::exception& e) {
        why = e.what();
      }
    }
    if (!is_loopback(host) && !active)
      w.push_back(fmt::format(
          "`hearth serve` would listen on {} (beyond this machine) and there is no active API "
          "key ({}), so it will refuse to start: create one with `hearth keys create NAME`",
          host, why));
  }
  for (const auto& p : {keys, cfg_path, store})
    if (world_readable(p))
      w.push_back(fmt::format("{} is readable by every user of this machine (chmod o-r {})", p, p));
  return w;
}

void run_doctor(const DoctorOptions& o) {
  if (o.ctx < engine::kMinContext || o.ctx > engine::kMaxContext)
    throw std::invalid_argument(fmt::format("doctor: --ctx must be between {} and {}, got {}",
                                            engine::kMinContext, engine::kMaxContext, o.ctx));
  const auto& f = kernels::cpu_features();
  std::vector<std::string> simd;
  auto add = [&](bool on, const char* n) {
    if (on) simd.push_back(n);
  };
  add(f.avx2, "avx2"), add(f.fma, "fma"), add(f.f16c, "f16c"), add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw"), add(f.avx512vl, "avx512vl"), add(f.avx512dq, "avx512dq");
  add(f.avx512vnni, "avx512vnni"), add(f.avx512bf16, "avx512bf16"), add(f.avxvnni, "avx-vnni");
  add(f.amx_int8, "amx-int8");
  const std::string kernels_level(kernels::simd_level_name(kernels::best_simd_level()));
  const auto mem = sysinfo::memory();
  const std::string store = store::Store::default_root();
  const std::string home = std::filesystem::path(store).parent_path().string();
  const auto disk = sysinfo::disk(store);
  const auto gpus = sysinfo::gpus();

  threads::ThreadPool pool;
  // Far past the last-level cache, yet never more than a quarter of free memory.
  const size_t bw_bytes = std::clamp<size_t>(mem.available / 4, size_t{64} << 20, size_t{1} << 30);
  const double bw = kernels::measure_read_bandwidth(pool, bw_bytes, 3);
  const double gops = measure_int8_gops(pool);

  struct Row {
    std::string size, quant;
    uint64_t weights = 0, kv = 0, total = 0;
    std::string fits;
    double tokens_per_s = 0;
  };
  std::vector<Row> rows;
  for (const auto& s : kSizes) {
    for (const char* q : kQuants) {
      uint64_t embd = 0;
      const uint64_t w = weight_bytes(s, q, &embd);
      const auto est = model::estimate_memory(hparams(s), w, o.ctx, 1, 512, backend::KvType::F16);
      Row r{s.name, q, w, est.kv_cache, est.total(), "", 0};
      r.fits = r.total <= mem.available ? "yes" : r.total <= mem.total ? "tight" : "no";
      r.tokens_per_s = bw * 1e9 / static_cast<double>(w - embd + est.kv_cache / 2);
      rows.push_back(r);
    }
  }
  const auto warns = warnings(home, store);

  if (o.json) {
    nlohmann::json j = {{"cpu", sysinfo::cpu_model()},
                        {"simd", simd},
                        {"kernels", kernels_level},
                        {"physical_cores", threads::physical_cores()},
                        {"logical_cpus", threads::online_cpus()},
                        {"memory_total_bytes", mem.total},
                        {"memory_available_bytes", mem.available},
                        {"store", store},
                        {"read_bandwidth_gbs", bw},
                        {"int8_gops", gops},
                        {"ctx", o.ctx},
                        {"warnings", warns}};
    if (disk) j["store_free_bytes"] = disk->available;
    j["gpus"] = nlohmann::json::array();
    for (const auto& g : gpus)
      j["gpus"].push_back({{"index", g.index},
                           {"name", g.name},
                           {"memory_total_bytes", g.memory_total},
                           {"memory_used_bytes", g.memory_used}});
    j["fit"] = nlohmann::json::array();
    for (const auto& r : rows)
      j["fit"].push_back({{"size", r.size},
                          {"quant", r.quant},
                          {"weights_bytes", r.weights},
                          {"kv_cache_bytes", r.kv},
                          {"total_bytes", r.total},
                          {"fits", r.fits},
                          {"tokens_per_s", r.tokens_per_s}});
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  const std::string cpu = sysinfo::cpu_model();
  std::printf("CPU        %s\n", cpu.empty() ? "(unknown)" : cpu.c_str());
  std::printf("SIMD       %s (kernels: %s)\n",
              simd.empty() ? "none" : fmt::format("{}", fmt::join(simd, " ")).c_str(),
              kernels_level.c_str());
  std::printf("Cores      %d physical, %d logical\n", threads::physical_cores(),
              threads::online_cpus());
  std::printf("Memory     %s total, %s available\n", gib(mem.total).c_str(),
              gib(mem.available).c_str());
  if (disk)
    std::printf("Store      %s: %s free of %s\n", store.c_str(), gib(disk->available).c_str(),
                gib(disk->total).c_str());
  else
    std::printf("Store      %s: cannot be examined\n", store.c_str());
  if (gpus.empty()) std::printf("GPUs       none found (no NVIDIA driver library, or no GPU)\n");
  for (const auto& g : gpus)
    std::printf("GPU %-6d %s, %s (%s in use)\n", g.index, g.name.c_str(),
                gib(g.memory_total).c_str(), gib(g.memory_used).c_str());
  std::printf("Bandwidth  %.1f GB/s memory read (%d threads)\n", bw, pool.size());
  std::printf("int8       %.1f GOPS (q8_0 matrix x 64 tokens; a multiply-add is 2 operations)\n",
              gops);
  std::printf(
      "\nWhich models fit (llama-family shapes; context %lld, one sequence, f16 KV cache):\n",
      static_cast<long long>(o.ctx));
  std::printf("| %-5s | %-7s | %10s | %10s | %10s | %-5s | %10s |\n", "model", "quant", "weights",
              "KV cache", "total", "fits", "tokens/s");
  std::printf("|-------|---------|------------|------------|------------|-------|------------|\n");
  for (const auto& r : rows)
    std::printf("| %-5s | %-7s | %10s | %10s | %10s | %-5s | %10.1f |\n", r.size.c_str(),
                r.quant.c_str(), gib(r.weights).c_str(), gib(r.kv).c_str(), gib(r.total).c_str(),
                r.fits.c_str(), r.tokens_per_s);
  std::printf(
      "fits: yes = within available memory, tight = only within total memory. tokens/s: the\n"
      "generation speed the measured bandwidth allows (every weight read once per token);\n"
      "real speed is lower.\n");
  if (!warns.empty()) std::printf("\nWarnings:\n");
  for (const auto& w : warns) std::printf("  ! %s\n", w.c_str());
}

}  // namespace

void add_doctor(CLI::App& app) {
  auto o = std::make_shared<DoctorOptions>();
  auto* cmd = app.add_subcommand(
      "doctor", "Check this machine: hardware, measured speed, which models fit, exposure");
  cmd->add_option("--ctx", o->ctx, "Context per sequence for the KV cache column (default 4096)");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { run_doctor(*o); });
}

}  // namespace hearth::cli
