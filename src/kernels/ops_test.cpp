// Each CPU op against a straightforward double-precision reference, and the CPU
// backend's threaded ops (attention with GQA over the KV cache) against the same.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_backend_kv.h"
#include "kernels/cpu_features.h"
#include "quant/fp16.h"

namespace hearth::kernels {
namespace {

// The CPU backend's memory is the host's, so its tests hand it host arrays.
using backend::DevPtr;

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

float round_f16(float x) { return quant::fp16_to_fp32(quant::fp32_to_fp16(x)); }

TEST(Ops, RmsNorm) {
  const auto x = random_vec(67, 1), w = random_vec(67, 2);
  std::vector<float> out(67);
  ops::rmsnorm(x.data(), w.data(), 67, 1e-5f, out.data());
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double s = 1.0 / std::sqrt(ss / 67 + 1e-5);
  for (int i = 0; i < 67; ++i) EXPECT_NEAR(out[i], x[i] * s * w[i], 1e-5);
}

TEST(Ops, LayerNorm) {
  auto x = random_vec(50, 3);
  for (auto& v : x) v += 2.0f;
  const auto w = random_vec(50, 4), b = random_vec(50, 5);
  std::vector<float> out(50);
  ops::layernorm(x.data(), w.data(), b.data(), 50, 1e-5f, out.data());
  double mean = 0, var = 0;
  for (float v : x) mean += v / 50.0;
  for (float v : x) var += (v - mean) * (v - mean) / 50.0;
  for (int i = 0; i < 50; ++i)
    EXPECT_NEAR(out[i], (x[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i], 1e-5);
}

TEST(Ops, Softmax) {
  auto x = random_vec(37, 6, 5.0f);
  const auto ref = x;
  ops::softmax(x.data(), 37);
  double sum = 0;
  for (float v : ref) sum += std::exp(double(v));
  for (int i = 0; i < 37; ++i) EXPECT_NEAR(x[i], std::exp(double(ref[i])) / sum, 1e-6);
}

TEST(Ops, SwigluGeluAdd) {
  const auto g = random_vec(33, 7, 3.0f), u = random_vec(33, 8);
  std::vector<float> out(33), ge = g, sum(33);
  ops::swiglu(g.data(), u.data(), out.data(), 33);
  ops::gelu(ge.data(), 33);
  ops::add(g.data(), u.data(), sum.data(), 33);
  for (int i = 0; i < 33; ++i) {
    const double x = g[i];
    EXPECT_NEAR(out[i], x / (1 + std::exp(-x)) * u[i], 1e-5);
    EXPECT_NEAR(ge[i], 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))),
                1e-5);
    EXPECT_FLOAT_EQ(sum[i], g[i] + u[i]);
  }
}

TEST(Ops, RopeNormalAndNeoxRotatePairs) {
  for (auto mode : {backend::RopeMode::Normal, backend::RopeMode::Neox}) {
    const backend::RopeParams p{mode, 8, 10000.0f, 0.5f};  // 8 of 10 dims rotate, linear scaling 2
    const auto x = random_vec(10, 9);
    auto y = x;
    std::vector<float> cs(8);
    ops::rope_angles(7, p, cs.data());
    ops::rope_head(y.data(), cs.data(), p);
    for (int i = 0; i < 4; ++i) {
      const double theta = 7 * 0.5 * std::pow(10000.0, -2.0 * i / 8);
      const int a = mode == backend::RopeMode::Normal ? 2 * i : i,
                b = mode == backend::RopeMode::Normal ? a + 1 : i + 4;
      EXPECT_NEAR(y[a], x[a] * std::cos(theta) - x[b] * std::sin(theta), 1e-5) << i;
      EXPECT_NEAR(y[b], x[a] * std::sin(theta) + x[b] * std::cos(theta), 1e-5) << i;
    }
    EXPECT_EQ(y[8], x[8]);
    EXPECT_EQ(y[9], x[9]);
  }
}

TEST(Ops, VectorPrimitives) {
  const auto a = random_vec(45, 10), b = random_vec(45, 11);
  double d = 0;
  for (int i = 0; i < 45; ++i) d += double(a[i]) * b[i];
  EXPECT_NEAR(ops::dot(a.data(), b.data(), 45), d, 1e-4);
  auto y = b;
  ops::axpy(0.5f, a.data(), y.data(), 45);
  for (int i = 0; i < 45; ++i) EXPECT_NEAR(y[i], b[i] + 0.5 * a[i], 1e-6);
  std::vector<uint16_t> h(45);
  std::vector<float> back(45);
  ops::f32_to_f16(a.data(), h.data(), 45);
  ops::f16_to_f32(h.data(), back.data(), 45);
  for (int i = 0; i < 45; ++i) {
    EXPECT_EQ(h[i], quant::fp32_to_fp16(a[i]));
    EXPECT_EQ(back[i], round_f16(a[i]));
  }
}

// Causal GQA attention through the backend vs. a direct computation in double:
// short batches take llama.cpp's per-row path (Q rounded to f16, output
// accumulated in f16: ~1e-3), batches of 64+ its tiled f32 path.
void check_attention(int64_t T, double tol, int64_t D = 32) {
  auto be = make_cpu_backend(2);
  const int64_t H = 4, KV = 2, pos0 = 3, n_ctx = 80;
  const bool round_q = T < 64;
  auto cache = be->alloc_kv_cache({1, n_ctx, KV, D}, backend::KvType::F16);
  auto k = random_vec((pos0 + T) * KV * D, 12), v = random_vec((pos0 + T) * KV * D, 13);
  auto q = random_vec(T * H * D, 14);
  const DevPtr kd(k.data()), vd(v.data());
  be->kv_store(*cache, 0, kd, vd, pos0, 0);
  be->kv_store(*cache, 0, kd + pos0 * KV * D, vd + pos0 * KV * D, T, pos0);
  std::vector<float> out(T * H * D);
  const float scale = 1.0f / std::sqrt(float(D));
  be->attention(DevPtr(q.data()), *cache, 0, T, pos0, {H, KV, D, scale}, DevPtr(out.data()));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / (H / KV), nk = pos0 + t + 1;
      std::vector<double> s(nk);
      double m = -1e30, sum = 0;
      for (int64_t j = 0; j < nk; ++j) {
        double d = 0;
        for (int64_t i = 0; i < D; ++i) {
          const float qv = q[(t * H + h) * D + i];
          d += double(round_q ? round_f16(qv) : qv) * round_f16(k[(j * KV + kvh) * D + i]);
        }
        s[j] = d * scale;
        m = std::max(m, s[j]);
      }
      for (auto& x : s) sum += x = std::exp(x - m);
      for (int64_t i = 0; i < D; ++i) {
        double o = 0;
        for (int64_t j = 0; j < nk; ++j) o += s[j] / sum * round_f16(v[(j * KV + kvh) * D + i]);
        ASSERT_NEAR(out[(t * H + h) * D + i], o, tol) << t << " " << h << " " << i;
      }
    }
  EXPECT_THROW(be->kv_store(*cache, 0, kd, vd, 2, n_ctx - 1), std::out_of_range);
}

TEST(CpuBackend, AttentionPerRowPathMatchesReference) { check_attention(5, 2e-3); }
TEST(CpuBackend, AttentionTiledPathMatchesReference) { check_attention(70, 1e-4); }
// Head sizes 64 and 128 take the per-row path's AVX2 kernel (attend_rows_f16_avx2).
TEST(CpuBackend, AttentionPerRowPathWideHeadsMatchReference) {
  check_attention(5, 2e-3, 64);
  check_attention(3, 2e-3, 128);
}

// The backend's per-row path (on AVX2 and AVX-512 machines
// attend_rows_f16_avx2 or _avx512, reading the f16 cache directly, in blocks
// of 64 keys) gives the same bits as attend_row_online, the reference
// arithmetic of llama.cpp's per-row path, for every query row: 6 query heads
// over 2 KV heads, a batch of 3 tokens after 40 cached positions (new maxima
// early, then long runs below them), and after 150 (three blocks, the last
// one partial). Also 9 query heads over one KV head on 3 threads, where the
// group splits into chunks of 5 and 4 heads (cpu_attention), and 10 on one
// thread: 8 rows of scores at once, then 2.
TEST(CpuBackend, AttentionPerRowKernelIsBitExact) {
  struct Heads {
    int64_t h, kv;
    int threads;
  };
  for (const Heads heads : {Heads{6, 2, 2}, Heads{9, 1, 3}, Heads{10, 1, 1}})
    for (const int64_t pos0 : {40, 150})
      for (const int64_t D : {64, 128}) {
        auto be = make_cpu_backend(heads.threads);
        const int64_t H = heads.h, KV = heads.kv, T = 3, n = pos0 + T;
        auto cache = be->alloc_kv_cache({2, 160, KV, D}, backend::KvType::F16);
        auto k = random_vec(n * KV * D, 21, 2.0f), v = random_vec(n * KV * D, 22);
        auto q = random_vec(T * H * D, 23, 2.0f);
        be->kv_store(*cache, 1, DevPtr(k.data()), DevPtr(v.data()), n, 0);
        std::vector<float> out(T * H * D);
        const float scale = 1.0f / std::sqrt(float(D));
        be->attention(DevPtr(q.data()), *cache, 1, T, pos0, {H, KV, D, scale}, DevPtr(out.data()));
        std::vector<float> kf(n * D), vf(n * D), scratch(3 * D), want(D);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t h = 0; h < H; ++h) {
            const int64_t kvh = h / (H / KV), nk = pos0 + t + 1;
            for (int64_t j = 0; j < nk; ++j)
              for (int64_t i = 0; i < D; ++i) {
                kf[j * D + i] = round_f16(k[(j * KV + kvh) * D + i]);
                vf[j * D + i] = round_f16(v[(j * KV + kvh) * D + i]);
              }
            attend_row_online(q.data() + (t * H + h) * D, kf.data(), vf.data(), nk, D, scale,
                              backend::KvType::F16, scratch.data(), want.data());
            for (int64_t i = 0; i < D; ++i)
              ASSERT_EQ(out[(t * H + h) * D + i], want[i])
                  << "KV " << KV << " pos0 " << pos0 << " D " << D << " t " << t << " h " << h;
          }
      }
}

// The per-row attention's vector expf (expf_libm.h) gives std::exp's bits
// for every argument the softmax can give it (<= 0): every 61st negative
// float from -0 to -inf (35 million), and the edges of its underflow.
TEST(CpuBackend, ExpfLanesAreLibmBits) {
  std::vector<float> x;
  for (uint64_t bits = 0x80000000u; bits <= 0xFF800000u; bits += 61)
    x.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  for (const float edge : {-0x1.9fe368p6f, -0x1.9d1d9ep6f, -88.0f, -87.5f, -0x1p-149f, -0.0f,
                           -std::numeric_limits<float>::infinity()})
    for (const float e : {edge, std::nextafter(edge, 0.0f), std::nextafter(edge, -1000.0f)})
      x.push_back(e);
  while (x.size() % 16 != 0) x.push_back(-1.0f);
  std::vector<float> y(x.size());
  int levels = 0;
  for (const auto& [level, fn] : {std::pair{SimdLevel::kAvx2, &expf_libm_avx2},
                                  std::pair{SimdLevel::kAvx512, &expf_libm_avx512}}) {
    if (!cpu_supports(level)) continue;
    ++levels;
    fn(x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(std::exp(x[i])))
          << simd_level_name(level) << " exp(" << x[i] << ")";
  }
  if (levels == 0) GTEST_SKIP() << "no AVX2 on this CPU: the kernels are not used";
}

TEST(CpuBackend, AttentionWithQ8_0CacheIsClose) {
  auto be = make_cpu_backend(1);
  const int64_t H = 2, KV = 1, D = 32, T = 3;
  auto f16 = be->alloc_kv_cache({1, 8, KV, D}, backend::KvType::F16);
  auto q8 = be->alloc_kv_cache({1, 8, KV, D}, backend::KvType::Q8_0);
  auto k = random_vec(T * D, 17), v = random_vec(T * D, 18), q = random_vec(T * H * D, 19);
  std::vector<float> a(T * H * D), b(T * H * D);
  for (auto* c : {f16.get(), q8.get()})
    be->kv_store(*c, 0, DevPtr(k.data()), DevPtr(v.data()), T, 0);
  be->attention(DevPtr(q.data()), *f16, 0, T, 0, {H, KV, D, 0.2f}, DevPtr(a.data()));
  be->attention(DevPtr(q.data()), *q8, 0, T, 0, {H, KV, D, 0.2f}, DevPtr(b.data()));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.05) << i;
  EXPECT_LT(q8->bytes(), f16->bytes());
}

TEST(CpuBackend, ThreadedRowOpsMatchSingleRows) {
  auto be = make_cpu_backend(2);
  const int64_t T = 300, N = 192;  // large enough to be spread over threads
  const auto x = random_vec(T * N, 15), w = random_vec(N, 16);
  auto buf = be->alloc(T * N), wbuf = be->alloc(N);
  be->upload(x.data(), buf->data(), T * N);
  be->upload(w.data(), wbuf->data(), N);
  be->rmsnorm(buf->data(), wbuf->data(), T, N, 1e-6f, buf->data());
  std::vector<float> got(T * N), want(N);
  be->download(buf->data(), got.data(), T * N);
  for (int64_t t = 0; t < T; t += 37) {
    ops::rmsnorm(x.data() + t * N, w.data(), N, 1e-6f, want.data());
    for (int64_t i = 0; i < N; ++i) ASSERT_EQ(got[t * N + i], want[i]);
  }
}

}  // namespace
}  // namespace hearth::kernels
