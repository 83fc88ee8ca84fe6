// Decode throughput of n sequences batched in one forward_batch per step, on a
// model file: HEARTH_BENCH_MODEL (default /tmp/tl-q4_0.gguf, made with
// `hearth synth --shape tinyllama-1.1b --type q4_0 /tmp/tl-q4_0.gguf`).
// Threads: HEARTH_BENCH_THREADS (default 2). Each sequence holds 64 prompt
// tokens before the timed steps; tokens/s counts every sequence's token.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu_backend.h"
#include "model/model.h"

namespace hearth::model {
namespace {

constexpr int64_t kPrompt = 64, kCtx = 512;

struct Loaded {
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<Model> model;
};

Loaded& loaded() {
  static Loaded l = [] {
    const char* threads = std::getenv("HEARTH_BENCH_THREADS");
    const char* path = std::getenv("HEARTH_BENCH_MODEL");
    Loaded r;
    r.backend = kernels::make_cpu_backend(threads ? std::atoi(threads) : 2);
    r.model = Model::load(path ? path : "/tmp/tl-q4_0.gguf", *r.backend);
    return r;
  }();
  return l;
}

void BM_DecodeBatched(benchmark::State& state) {
  const Model& m = *loaded().model;
  const int64_t n = state.range(0), V = m.hparams().n_vocab;
  std::vector<std::unique_ptr<backend::KvCache>> caches;
  std::vector<float> logits(n * V);
  const std::vector<int32_t> prompt(kPrompt, 278);
  std::vector<int32_t> next(n, 1);
  auto scratch = m.make_scratch(kPrompt, n);
  for (int64_t i = 0; i < n; ++i) {
    caches.push_back(m.make_kv_cache(kCtx, backend::KvType::F16));
    m.forward(prompt.data(), kPrompt, 0, *caches.back(), *scratch, kPrompt, nullptr);
  }
  int64_t pos = kPrompt;
  std::vector<SeqChunk> chunks(n);
  for (auto _ : state) {
    if (pos == kCtx) pos = kPrompt;
    for (int64_t i = 0; i < n; ++i)
      chunks[i] = {&next[i], 1, pos, caches[i].get(), logits.data() + i * V, 1};
    m.forward_batch(chunks, *scratch);
    ++pos;
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeBatched)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace hearth::model
