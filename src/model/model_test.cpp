// Each architecture's forward pass against a plain double-precision reference
// written from the papers' equations, on tiny random models written to GGUF;
// and the load errors a malformed file gets.
#include "model/model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gguf/writer.h"
#include "kernels/cpu_backend.h"
#include "model/hparams.h"
#include "model/scratch.h"
#include "model/tiny_test_model.h"
#include "quant/quantize_model.h"
#include "threads/thread_pool.h"

namespace hearth::model {
namespace {

using Vec = std::vector<double>;
using test_models::make_tiny;
using test_models::Tiny;

// y = W x with W in GGUF order {cols, rows}.
Vec matvec(const std::vector<float>& w, const Vec& x, size_t rows) {
  const size_t cols = x.size();
  Vec y(rows);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) y[r] += double(w[r * cols + c]) * x[c];
  return y;
}

Vec norm(const Tiny& m, const Vec& x, const std::string& name) {
  const size_t n = x.size();
  Vec y(n);
  if (m.arch == "falcon") {
    double mean = 0, var = 0;
    for (double v : x) mean += v / n;
    for (double v : x) var += (v - mean) * (v - mean) / n;
    const auto& b = m.t(name + ".bias");
    for (size_t i = 0; i < n; ++i)
      y[i] = (x[i] - mean) / std::sqrt(var + 1e-5) * m.t(name + ".weight")[i] + b[i];
  } else {
    double ss = 0;
    for (double v : x) ss += v * v / n;
    for (size_t i = 0; i < n; ++i) y[i] = x[i] / std::sqrt(ss + 1e-5) * m.t(name + ".weight")[i];
  }
  return y;
}

void rope(const Tiny& m, double* x, int64_t pos) {
  const bool neox = m.arch != "llama";
  for (int64_t i = 0; i < m.D / 2; ++i) {
    const double th = pos * std::pow(10000.0, -2.0 * i / m.D);
    const int64_t a = neox ? i : 2 * i, b = neox ? i + m.D / 2 : 2 * i + 1;
    const double x0 = x[a], x1 = x[b];
    x[a] = x0 * std::cos(th) - x1 * std::sin(th);
    x[b] = x0 * std::sin(th) + x1 * std::cos(th);
  }
}

// Logits after the last of `tokens`.
Vec reference(const Tiny& m, const std::vector<int32_t>& tokens) {
  const int64_t T = tokens.size(), E = m.E, Q = m.H * m.D, K = m.KV * m.D;
  std::vector<Vec> x(T, Vec(E));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < E; ++i) x[t][i] = m.t("token_embd.weight")[tokens[t] * E + i];
  for (int l = 0; l < m.L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    std::vector<Vec> q(T), k(T), v(T), xn(T);
    for (int64_t t = 0; t < T; ++t) {
      xn[t] = norm(m, x[t], p + "attn_norm");
      if (m.arch == "falcon") {
        const Vec qkv = matvec(m.t(p + "attn_qkv.weight"), xn[t], Q + 2 * K);
        q[t] = Vec(qkv.begin(), qkv.begin() + Q);
        k[t] = Vec(qkv.begin() + Q, qkv.begin() + Q + K);
        v[t] = Vec(qkv.begin() + Q + K, qkv.end());
      } else {
        q[t] = matvec(m.t(p + "attn_q.weight"), xn[t], Q);
        k[t] = matvec(m.t(p + "attn_k.weight"), xn[t], K);
        v[t] = matvec(m.t(p + "attn_v.weight"), xn[t], K);
        if (m.has(p + "attn_q.bias"))
          for (int64_t i = 0; i < Q; ++i) q[t][i] += m.t(p + "attn_q.bias")[i];
        if (m.has(p + "attn_k.bias"))
          for (int64_t i = 0; i < K; ++i)
            k[t][i] += m.t(p + "attn_k.bias")[i], v[t][i] += m.t(p + "attn_v.bias")[i];
      }
      for (int64_t h = 0; h < m.H; ++h) rope(m, &q[t][h * m.D], t);
      for (int64_t h = 0; h < m.KV; ++h) rope(m, &k[t][h * m.D], t);
    }
    for (int64_t t = 0; t < T; ++t) {
      Vec att(Q);
      for (int64_t h = 0; h < m.H; ++h) {
        const int64_t kh = h / (m.H / m.KV);
        Vec s(t + 1);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          for (int64_t d = 0; d < m.D; ++d) s[j] += q[t][h * m.D + d] * k[j][kh * m.D + d];
          s[j] /= std::sqrt(double(m.D));
          mx = std::max(mx, s[j]);
        }
        for (auto& e : s) sum += e = std::exp(e - mx);
        for (int64_t j = 0; j <= t; ++j)
          for (int64_t d = 0; d < m.D; ++d) att[h * m.D + d] += s[j] / sum * v[j][kh * m.D + d];
      }
      const Vec o = matvec(m.t(p + "attn_output.weight"), att, E);
      if (m.arch == "falcon") {
        Vec up = matvec(m.t(p + "ffn_up.weight"), xn[t], m.F);
        for (auto& u : up)
          u = 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
        const Vec down = matvec(m.t(p + "ffn_down.weight"), up, E);
        for (int64_t i = 0; i < E; ++i) x[t][i] += o[i] + down[i];
      } else {
        for (int64_t i = 0; i < E; ++i) x[t][i] += o[i];
      }
    }
    if (m.arch == "falcon") continue;
    for (int64_t t = 0; t < T; ++t) {
      const Vec n2 = norm(m, x[t], p + "ffn_norm");
      Vec g = matvec(m.t(p + "ffn_gate.weight"), n2, m.F);
      const Vec u = matvec(m.t(p + "ffn_up.weight"), n2, m.F);
      for (int64_t i = 0; i < m.F; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const Vec d = matvec(m.t(p + "ffn_down.weight"), g, E);
      for (int64_t i = 0; i < E; ++i) x[t][i] += d[i];
    }
  }
  const Vec xn = norm(m, x[T - 1], "output_norm");
  return matvec(m.t(m.tied ? "token_embd.weight" : "output.weight"), xn, m.V);
}

void check_against_reference(const Tiny& m) {
  auto backend = kernels::make_cpu_backend(2);
  const std::string path = m.write();
  auto model = Model::load(path, *backend);
  unlink(path.c_str());
  const std::vector<int32_t> tokens = {3, 17, 42, 8, 25, 1};
  auto cache = model->make_kv_cache(16, backend::KvType::F16);
  auto scratch = model->make_scratch(8, 1);
  std::vector<float> logits(m.V);
  model->forward(tokens.data(), tokens.size(), 0, *cache, *scratch, tokens.size() - 1,
                 logits.data());
  const Vec want = reference(m, tokens);
  for (int64_t i = 0; i < m.V; ++i) EXPECT_NEAR(logits[i], want[i], 0.02) << m.arch << " " << i;
  // The same sequence token by token (the generation path) ends at the same logits.
  auto cache2 = model->make_kv_cache(16, backend::KvType::F16);
  for (size_t t = 0; t < tokens.size(); ++t)
    model->forward(&tokens[t], 1, t, *cache2, *scratch, 0, logits.data());
  for (int64_t i = 0; i < m.V; ++i) EXPECT_NEAR(logits[i], want[i], 0.02) << m.arch << " " << i;
}

TEST(Model, LlamaMatchesReference) { check_against_reference(make_tiny("llama")); }
TEST(Model, LlamaWithTiedOutputMatchesReference) {
  check_against_reference(make_tiny("llama", true));
}
TEST(Model, Qwen2MatchesReference) { check_against_reference(make_tiny("qwen2")); }
TEST(Model, FalconMatchesReference) { check_against_reference(make_tiny("falcon")); }

std::string load_error(const std::string& path) {
  auto backend = kernels::make_cpu_backend(1);
  try {
    Model::load(path, *backend);
  } catch (const std::exception& e) {
    unlink(path.c_str());
    return e.what();
  }
  unlink(path.c_str());
  return "";
}

TEST(Model, MissingTensorIsNamed) {
  const auto m = make_tiny("llama");
  const std::string err = load_error(m.write({"blk.1.ffn_up.weight"}));
  EXPECT_NE(err.find("blk.1.ffn_up.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
}

TEST(Model, WrongShapeIsNamedWithBothShapes) {
  const auto m = make_tiny("qwen2");
  const std::string err = load_error(m.write({}, {{"blk.0.attn_k.weight", {64, 16}}}));
  EXPECT_NE(err.find("blk.0.attn_k.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("[64, 16]"), std::string::npos) << err;
  EXPECT_NE(err.find("[64, 32]"), std::string::npos) << err;
}

TEST(Model, UnknownArchitectureIsRefused) {
  auto m = make_tiny("llama");
  m.arch = "mamba";
  const std::string err = load_error(m.write());
  EXPECT_NE(err.find("mamba"), std::string::npos) << err;
}

// The process's file-backed resident memory (/proc/self/status).
uint64_t resident_file_bytes() {
  std::ifstream in("/proc/self/status");
  uint64_t kib = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("RssFile:", 0) == 0) kib += std::stoull(line.substr(std::strlen("RssFile:")));
  return kib * 1024;
}

// A weight the backend copies (the packed layouts of Q8_0 and the others) is
// read once from the mapped file at load; its pages must leave the process
// after, or the model would take its memory twice. 8.4 M Q8_0 weights (8.9
// MB) add at most 2 MB of the file to resident memory.
TEST(Model, LoadLeavesNoCopiedWeightsFilePagesResident) {
  Tiny shape;
  shape.E = 512, shape.H = 8, shape.KV = 8, shape.D = 64, shape.F = 2048, shape.L = 2;
  const std::string f32 = make_tiny("llama", false, shape).write();
  const std::string q8 = f32 + ".q8_0.gguf";
  threads::ThreadPool pool(2);
  quant::QuantizeOptions qo;
  qo.type = "q8_0";
  const auto summary =
      quant::quantize_model(f32, mix_shape(*gguf::GgufFile::open(f32)), q8, qo, pool);
  unlink(f32.c_str());
  ASSERT_GT(summary.bytes_after, uint64_t{8} << 20);
  auto backend = kernels::make_cpu_backend(1);
  const uint64_t before = resident_file_bytes();
  const auto model = Model::load(q8, *backend);
  const uint64_t after = resident_file_bytes();
  unlink(q8.c_str());
  EXPECT_LT(after, before + (uint64_t{2} << 20)) << before << " -> " << after;
}

}  // namespace
}  // namespace hearth::model
