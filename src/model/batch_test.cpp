// Model::forward_batch: each sequence of a batched pass gets bitwise the logits
// it gets alone, whatever runs beside it (decode tokens, prompt chunks, sequences
// joining and leaving), for every architecture and for quantized weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_backend.h"
#include "model/hparams.h"
#include "model/model.h"
#include "model/tiny_test_model.h"
#include "quant/quantize_model.h"
#include "threads/thread_pool.h"

namespace hearth::model {
namespace {

// One sequence's part in a step: its next n_tokens tokens, and the logits of
// its last n_logits of them (0: none).
struct Part {
  int seq;
  int64_t n_tokens, n_logits;
};
using Step = std::vector<Part>;

// Sequences 0 (A), 1 (B), 2 (C), 3 (D): A and C start with prompts, B joins
// with a prompt in two chunks (the first of 70 tokens: attention's tiled path)
// beside their decode steps, C leaves, D joins, A skips a step.
const std::vector<Step> kScenario = {
    {{0, 5, 1}, {2, 12, 1}},
    {{0, 1, 1}, {1, 70, 0}, {2, 1, 1}},
    {{0, 1, 1}, {1, 30, 3}, {2, 1, 1}},
    {{2, 1, 1}, {0, 1, 1}, {1, 1, 1}},
    {{1, 1, 1}, {3, 7, 1}},
    {{0, 1, 1}, {1, 1, 1}, {3, 1, 1}},
};
constexpr int kSeqs = 4;

// Runs the scenario's steps through forward_batch, and each part alone through
// forward (in a fresh cache per sequence), and expects the same logits bit for
// bit at every step.
void expect_batched_equals_alone(const Model& m, const std::string& what) {
  const int64_t V = m.hparams().n_vocab;
  std::vector<std::vector<int32_t>> tokens(kSeqs);
  std::mt19937 rng(5);
  for (auto& t : tokens)
    for (int i = 0; i < 120; ++i) t.push_back(static_cast<int32_t>(rng() % V));
  std::vector<std::unique_ptr<backend::KvCache>> alone_cache, batch_cache;
  for (int i = 0; i < kSeqs; ++i) {
    alone_cache.push_back(m.make_kv_cache(128, backend::KvType::F16));
    batch_cache.push_back(m.make_kv_cache(128, backend::KvType::F16));
  }
  auto alone_scratch = m.make_scratch(128, 4);
  auto batch_scratch = m.make_scratch(128, 8);
  std::vector<int64_t> pos(kSeqs, 0);
  for (size_t step = 0; step < kScenario.size(); ++step) {
    const Step& parts = kScenario[step];
    std::vector<std::vector<float>> alone(parts.size()), batched(parts.size());
    std::vector<SeqChunk> chunks;
    for (size_t i = 0; i < parts.size(); ++i) {
      const Part& p = parts[i];
      alone[i].assign(std::max<int64_t>(p.n_logits, 1) * V, 0.f);
      batched[i].assign(std::max<int64_t>(p.n_logits, 1) * V, -1.f);
      const int32_t* tok = tokens[p.seq].data() + pos[p.seq];
      m.forward(tok, p.n_tokens, pos[p.seq], *alone_cache[p.seq], *alone_scratch,
                p.n_tokens - p.n_logits, alone[i].data());
      chunks.push_back({tok, p.n_tokens, pos[p.seq], batch_cache[p.seq].get(),
                        p.n_logits ? batched[i].data() : nullptr, p.n_logits});
      pos[p.seq] += p.n_tokens;
    }
    m.forward_batch(chunks, *batch_scratch);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i].n_logits) continue;
      EXPECT_EQ(0, std::memcmp(alone[i].data(), batched[i].data(), alone[i].size() * 4))
          << what << ": step " << step << ", sequence " << parts[i].seq;
    }
  }
}

class ForwardBatch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = kernels::make_cpu_backend(2).release();
    for (const char* type : {"q8_0", "q4_0", "q4_k_m"}) {
      const std::string path =
          "/tmp/hearth_batch_test_" + std::to_string(getpid()) + "_" + type + ".gguf";
      threads::ThreadPool pool(2);
      quant::quantize_model(test_models::kTinyKjvPath,
                            mix_shape(*gguf::GgufFile::open(test_models::kTinyKjvPath)), path,
                            {.type = type}, pool);
      quantized_.push_back(path);
    }
  }
  static void TearDownTestSuite() {
    for (const auto& p : quantized_) unlink(p.c_str());
    quantized_.clear();
    delete backend_;
  }
  static backend::Backend* backend_;
  static std::vector<std::string> quantized_;
};
backend::Backend* ForwardBatch::backend_ = nullptr;
std::vector<std::string> ForwardBatch::quantized_;

TEST_F(ForwardBatch, EachSequenceGetsItsLogitsAloneF16) {
  expect_batched_equals_alone(*Model::load(test_models::kTinyKjvPath, *backend_), "f16");
}

TEST_F(ForwardBatch, EachSequenceGetsItsLogitsAloneQuantized) {
  for (const auto& path : quantized_)
    expect_batched_equals_alone(*Model::load(path, *backend_), path);
}

TEST_F(ForwardBatch, EachSequenceGetsItsLogitsAloneEveryArchitecture) {
  for (const char* arch : {"llama", "qwen2", "falcon"}) {
    const std::string path = test_models::make_tiny(arch).write();
    auto model = Model::load(path, *backend_);
    unlink(path.c_str());
    expect_batched_equals_alone(*model, arch);
  }
}

// The last block runs only over the rows whose logits are wanted: the logits
// of a 70-token prompt's last rows, and the next token's after a prompt that
// wanted none, are bitwise those of a pass that wanted every row.
void expect_wanted_rows_equal_every_row(const Model& m, const std::string& what) {
  const int64_t V = m.hparams().n_vocab, T = 70;
  std::vector<int32_t> tokens;
  std::mt19937 rng(9);
  for (int i = 0; i <= T; ++i) tokens.push_back(static_cast<int32_t>(rng() % V));
  auto scratch = m.make_scratch(T, T);
  auto every_cache = m.make_kv_cache(128, backend::KvType::F16);
  std::vector<float> every(T * V), next_every(V);
  m.forward(tokens.data(), T, 0, *every_cache, *scratch, 0, every.data());
  m.forward(&tokens[T], 1, T, *every_cache, *scratch, 0, next_every.data());
  for (const int64_t wanted : {0, 1, 3}) {
    auto cache = m.make_kv_cache(128, backend::KvType::F16);
    std::vector<float> last(std::max<int64_t>(wanted, 1) * V, -1.f), next(V, -1.f);
    m.forward(tokens.data(), T, 0, *cache, *scratch, T - wanted, last.data());
    if (wanted) {
      EXPECT_EQ(0, std::memcmp(every.data() + (T - wanted) * V, last.data(), wanted * V * 4))
          << what << ": the last " << wanted << " rows";
    }
    m.forward(&tokens[T], 1, T, *cache, *scratch, 0, next.data());
    EXPECT_EQ(0, std::memcmp(next_every.data(), next.data(), V * 4))
        << what << ": the next token after a prompt that wanted " << wanted << " rows";
  }
}

TEST_F(ForwardBatch, LastBlockOverWantedRowsOnlyChangesNoLogit) {
  expect_wanted_rows_equal_every_row(*Model::load(test_models::kTinyKjvPath, *backend_), "f16");
  expect_wanted_rows_equal_every_row(*Model::load(quantized_[0], *backend_), quantized_[0]);
  for (const char* arch : {"llama", "qwen2", "falcon"}) {
    const std::string path = test_models::make_tiny(arch).write();
    auto model = Model::load(path, *backend_);
    unlink(path.c_str());
    expect_wanted_rows_equal_every_row(*model, arch);
  }
}

TEST_F(ForwardBatch, RefusesWhatDoesNotFit) {
  auto m = Model::load(test_models::kTinyKjvPath, *backend_);
  auto a = m->make_kv_cache(16, backend::KvType::F16);
  auto b = m->make_kv_cache(16, backend::KvType::F16);
  auto scratch = m->make_scratch(8, 2);
  const std::vector<int32_t> t(10, 278);
  std::vector<float> la(m->hparams().n_vocab), lb(la.size()), lc(la.size());
  auto run = [&](std::vector<SeqChunk> chunks) { m->forward_batch(chunks, *scratch); };
  // Too many tokens in all, too many rows of logits, a shared cache, past the context.
  EXPECT_THROW(run({{t.data(), 5, 0, a.get()}, {t.data(), 4, 0, b.get()}}), std::invalid_argument);
  auto c = m->make_kv_cache(16, backend::KvType::F16);
  EXPECT_THROW(run({{t.data(), 1, 0, a.get(), la.data()},
                    {t.data(), 1, 0, b.get(), lb.data()},
                    {t.data(), 1, 0, c.get(), lc.data()}}),
               std::invalid_argument);
  EXPECT_THROW(run({{t.data(), 1, 0, a.get()}, {t.data(), 1, 1, a.get()}}), std::invalid_argument);
  EXPECT_THROW(run({{t.data(), 1, 0, a.get(), la.data(), 2}}), std::invalid_argument);
  EXPECT_THROW(run({{t.data(), 2, 15, a.get()}}), std::out_of_range);
  EXPECT_NO_THROW(run({{t.data(), 4, 0, a.get(), la.data()}, {t.data(), 4, 12, b.get()}}));
}

}  // namespace
}  // namespace hearth::model
