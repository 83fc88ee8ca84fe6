// Matrix x vector (decode) and matrix x matrix (prefill) on TinyLlama-1.1B's
// shapes, with random weights, and the machine's read bandwidth for the
// roofline. Threads: HEARTH_BENCH_THREADS (default 2, the target machine's cores).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "kernels/bandwidth.h"
#include "kernels/cpu_backend.h"
#include "kernels/matmul.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;

int bench_threads() {
  const char* env = std::getenv("HEARTH_BENCH_THREADS");
  return env ? std::atoi(env) : 2;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

// Random bytes with small fp16 scales at every block's scale field(s). Q8_0's
// quants in -127..127 as llama.cpp's quantizer writes them, unless `q8_min`
// (AVX2 then takes its slower form: PackedLayout::q8_holds_min).
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols,
                                   bool q8_min = false) {
  std::mt19937_64 rng(42);
  const size_t bytes = gguf::row_bytes(type, cols) * rows;
  std::vector<uint8_t> data(bytes);
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  const gguf::TypeTraits* tr = gguf::type_traits(type);
  const uint16_t scale = quant::fp32_to_fp16(0.01f);
  if (type == TensorType::F16 || type == TensorType::BF16) {
    auto* h = reinterpret_cast<uint16_t*>(data.data());
    for (size_t i = 0; i < bytes / 2; ++i) h[i] = scale;  // finite values
  } else if (type != TensorType::F32) {
    // d (and m / dmin) lead every block except Q6_K's, whose d is last.
    const size_t at = type == TensorType::Q6_K ? 208 : 0;
    for (size_t b = 0; b < bytes / tr->block_bytes; ++b) {
      std::memcpy(&data[b * tr->block_bytes + at], &scale, 2);
      if (type != TensorType::Q6_K) std::memcpy(&data[b * tr->block_bytes + 2], &scale, 2);
    }
  } else {
    auto* f = reinterpret_cast<float*>(data.data());
    for (size_t i = 0; i < bytes / 4; ++i) f[i] = 0.01f;
  }
  if (type == TensorType::Q8_0 && !q8_min)
    for (size_t b = 0; b < bytes / tr->block_bytes; ++b)
      for (size_t j = 2; j < tr->block_bytes; ++j)
        if (data[b * tr->block_bytes + j] == 0x80) data[b * tr->block_bytes + j] = 0x81;
  return data;
}

void BM_Multiply(benchmark::State& state, TensorType type, int64_t rows, int64_t cols,
                 bool q8_min) {
  const int64_t tokens = state.range(0);
  const auto w = random_matrix(type, rows, cols, q8_min);
  WeightMatrix m(type, w.data(), rows, cols);
  std::vector<float> x(tokens * cols), y(tokens * rows);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  for (auto _ : state) {
    m.multiply(x.data(), tokens, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.size()) * iters / 1e9, benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * rows * cols * tokens * iters / 1e9, benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(std::string(gguf::type_name(type)) + " " +
                 std::string(simd_level_name(m.level())));
}

// Decode as the model does it: one vector through TinyLlama-1.1B's 22
// layers of q, k, v, o, gate, up and down in turn, each layer its own packed
// copy, so every matrix comes from memory (about 600 MB at Q4_0, far beyond
// the caches) and the dispatches and thread hand-offs between small matrices
// count, as in generation. GB/s: weight bytes read per second.
void BM_DecodeLayers(benchmark::State& state, TensorType type, bool q8_min) {
  constexpr int64_t kLayers = 22, E = 2048, KV = 256, FF = 5632;
  struct Mat {
    int64_t rows, cols;
  };
  constexpr Mat kLayer[] = {{E, E}, {KV, E}, {KV, E}, {E, E}, {FF, E}, {FF, E}, {E, FF}};
  std::map<std::pair<int64_t, int64_t>, std::vector<uint8_t>> sources;
  std::vector<std::unique_ptr<WeightMatrix>> mats;
  double bytes = 0;
  for (int64_t l = 0; l < kLayers; ++l)
    for (const Mat& m : kLayer) {
      auto& src = sources[{m.rows, m.cols}];
      if (src.empty()) src = random_matrix(type, m.rows, m.cols, q8_min);
      mats.push_back(std::make_unique<WeightMatrix>(type, src.data(), m.rows, m.cols));
      bytes += static_cast<double>(src.size());
    }
  std::vector<float> x(FF), y(2 * FF + 2 * KV);  // outputs side by side: q k v, gate up
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  // As the model: q, k and v share their input, and gate and up theirs.
  for (auto _ : state)
    for (size_t l = 0; l < mats.size(); l += 7) {
      const WeightMatrix::Product qkv[] = {{mats[l].get(), y.data()},
                                           {mats[l + 1].get(), y.data() + E},
                                           {mats[l + 2].get(), y.data() + E + KV}};
      WeightMatrix::multiply_shared(qkv, x.data(), 1, pool());
      mats[l + 3]->multiply(x.data(), 1, y.data(), pool());
      const WeightMatrix::Product gate_up[] = {{mats[l + 4].get(), y.data()},
                                               {mats[l + 5].get(), y.data() + FF}};
      WeightMatrix::multiply_shared(gate_up, x.data(), 1, pool());
      mats[l + 6]->multiply(x.data(), 1, y.data(), pool());
      benchmark::DoNotOptimize(y.data());
    }
  state.counters["GB/s"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(gguf::type_name(type)) + " " +
                 std::string(simd_level_name(mats.front()->level())));
}

// Generation's attention deep in a context: one token's queries (args: depth,
// query heads, KV heads; heads of 64: TinyLlama's 32 over 4, or Falcon-7B's
// 71 over 1) against `depth` cached positions in each of 22 layers, so the
// f16 cache (94 MB at 4096 for TinyLlama) comes from memory as it does in
// generation. GB/s: cache bytes read per second.
void BM_AttentionDecode(benchmark::State& state) {
  constexpr int64_t kLayers = 22, D = 64;
  const int64_t depth = state.range(0), H = state.range(1), KV = state.range(2);
  auto be = make_cpu_backend(pool());
  auto cache = be->alloc_kv_cache({kLayers, depth + 1, KV, D}, backend::KvType::F16);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> k((depth + 1) * KV * D), v(k.size()), q(H * D), out(H * D);
  for (auto* x : {&k, &v, &q})
    for (auto& e : *x) e = normal(rng);
  for (int64_t l = 0; l < kLayers; ++l)
    be->kv_store(*cache, l, backend::DevPtr(k.data()), backend::DevPtr(v.data()), depth + 1, 0);
  const backend::AttentionParams p{H, KV, D, 0.125f};
  for (auto _ : state)
    for (int64_t l = 0; l < kLayers; ++l)
      be->attention(backend::DevPtr(q.data()), *cache, l, 1, depth, p, backend::DevPtr(out.data()));
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(cache->bytes()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_AttentionDecode)
    ->Args({512, 32, 4})
    ->Args({4096, 32, 4})
    ->Args({4096, 71, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ReadBandwidth(benchmark::State& state) {
  double gbs = 0;
  for (auto _ : state) gbs = measure_read_bandwidth(pool(), size_t{1} << 30, 3);
  state.counters["GB/s"] = gbs;
}
BENCHMARK(BM_ReadBandwidth)->Iterations(1)->Unit(benchmark::kMillisecond);

struct Shape {
  const char* name;
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{"attn_q/o 2048x2048", 2048, 2048},
                             {"ffn_gate/up 5632x2048", 5632, 2048},
                             {"ffn_down 2048x5632", 2048, 5632},
                             {"output 32000x2048", 32000, 2048}};

const bool registered = [] {
  for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K,
                          TensorType::Q6_K, TensorType::F16})
    for (const Shape& s : kShapes) {
      const std::string name =
          std::string("Multiply/") + std::string(gguf::type_name(type)) + "/" + s.name;
      auto* b =
          benchmark::RegisterBenchmark(name.c_str(), BM_Multiply, type, s.rows, s.cols, false);
      b->Arg(1)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  // Q8_0 with -128 among its quants: AVX2's other form.
  benchmark::RegisterBenchmark("Multiply/q8_0+min/ffn_gate/up 5632x2048", BM_Multiply,
                               TensorType::Q8_0, 5632, 2048, true)
      ->Arg(1)
      ->Arg(512)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("DecodeLayers/q8_0+min", BM_DecodeLayers, TensorType::Q8_0, true)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (TensorType type :
       {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K})
    benchmark::RegisterBenchmark(
        (std::string("DecodeLayers/") + std::string(gguf::type_name(type))).c_str(),
        BM_DecodeLayers, type, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace hearth::kernels
