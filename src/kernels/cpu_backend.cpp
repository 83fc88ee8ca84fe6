#include "kernels/cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu_backend_kv.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "quant/fp16.h"
#include "quant/rows.h"

namespace hearth::kernels {
namespace {

using backend::DevPtr;

// The host address behind one of this backend's pointers (its memory is the host's).
float* host(DevPtr p) { return p.address(); }

// Below this many values an op runs on the calling thread: waking the pool costs more.
constexpr int64_t kParallelMin = 1 << 15;

class CpuWeight final : public backend::Weight {
 public:
  CpuWeight(gguf::TensorType type, const void* data, int64_t rows, int64_t cols)
      : m_(type, data, rows, cols) {}
  gguf::TensorType type() const override { return m_.type(); }
  int64_t rows() const override { return m_.rows(); }
  int64_t cols() const override { return m_.cols(); }
  uint64_t bytes() const override {
    return gguf::row_bytes(m_.type(), static_cast<uint64_t>(m_.cols())) *
           static_cast<uint64_t>(m_.rows());
  }
  bool copied() const override { return m_.packed(); }
  const WeightMatrix& matrix() const { return m_; }

 private:
  WeightMatrix m_;
};

class CpuBuffer final : public backend::Buffer {
 public:
  explicit CpuBuffer(int64_t n) : n_(n) {
    // 64-byte aligned for the SIMD kernels; rounded up as aligned_alloc requires.
    const size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) * 4 + 63) / 64 * 64;
    p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p_) throw std::bad_alloc();
    std::memset(p_, 0, bytes);
  }
  ~CpuBuffer() override { std::free(p_); }
  DevPtr data() override { return DevPtr(p_); }
  int64_t size() const override { return n_; }

 private:
  float* p_;
  int64_t n_;
};

class CpuBackend final : public backend::Backend {
 public:
  explicit CpuBackend(std::optional<int> n_threads)
      : owned_pool_(std::make_unique<ThreadPool>(n_threads)), pool_(*owned_pool_) {}
  explicit CpuBackend(ThreadPool& pool) : pool_(pool) {}

  std::string name() const override { return "cpu"; }
  int threads() const override { return pool_.size(); }

  std::unique_ptr<backend::Weight> load_weight(gguf::TensorType type, const void* data,
                                               int64_t rows, int64_t cols) override {
    return std::make_unique<CpuWeight>(type, data, rows, cols);
  }
  std::unique_ptr<backend::Buffer> alloc(int64_t n) override {
    return std::make_unique<CpuBuffer>(n);
  }
  std::unique_ptr<backend::KvCache> alloc_kv_cache(const backend::KvShape& shape,
                                                   backend::KvType type) override {
    return std::make_unique<CpuKvCache>(shape, type);
  }
  void upload(const float* src, DevPtr dst, int64_t n) override {
    std::memcpy(host(dst), src, static_cast<size_t>(n) * 4);
  }
  void download(DevPtr src, float* dst, int64_t n) override {
    std::memcpy(dst, host(src), static_cast<size_t>(n) * 4);
  }

  void matmul(const backend::Weight& w, DevPtr x, int64_t n_tokens, DevPtr y) override {
    static_cast<const CpuWeight&>(w).matrix().multiply(host(x), n_tokens, host(y), pool_);
  }
  void matmul_shared(std::span<const MatmulOut> outs, DevPtr x, int64_t n_tokens) override {
    // No allocation per call (it runs twice a layer a token): multiply_shared
    // takes at most 8 products, and refuses more.
    WeightMatrix::Product products[8];
    if (outs.size() > std::size(products))
      throw std::invalid_argument("matmul_shared: more than 8 products");
    for (size_t i = 0; i < outs.size(); ++i)
      products[i] = {&static_cast<const CpuWeight&>(*outs[i].w).matrix(), host(outs[i].y)};
    WeightMatrix::multiply_shared({products, outs.size()}, host(x), n_tokens, pool_);
  }
  void get_rows(const backend::Weight& w, const int32_t* ids, int64_t n_tokens,
                DevPtr out_dev) override {
    float* out = host(out_dev);
    const auto& m = static_cast<const CpuWeight&>(w).matrix();
    for (int64_t t = 0; t < n_tokens; ++t) {
      if (ids[t] < 0 || ids[t] >= m.rows())
        throw std::out_of_range("token id " + std::to_string(ids[t]) + " outside the vocabulary (" +
                                std::to_string(m.rows()) + " tokens)");
      m.dequantize_row(ids[t], out + t * m.cols());
    }
  }
  void rmsnorm(DevPtr x_dev, DevPtr weight_dev, int64_t n_tokens, int64_t n, float eps,
               DevPtr out_dev) override {
    const float *x = host(x_dev), *weight = host(weight_dev);
    float* out = host(out_dev);
    rows(n_tokens, n, [&](int64_t t) { ops::rmsnorm(x + t * n, weight, n, eps, out + t * n); });
  }
  void layernorm(DevPtr x_dev, DevPtr weight_dev, DevPtr bias_dev, int64_t n_tokens, int64_t n,
                 float eps, DevPtr out_dev) override {
    const float *x = host(x_dev), *weight = host(weight_dev), *bias = host(bias_dev);
    float* out = host(out_dev);
    rows(n_tokens, n,
         [&](int64_t t) { ops::layernorm(x + t * n, weight, bias, n, eps, out + t * n); });
  }
  void add_bias(DevPtr x_dev, DevPtr bias_dev, int64_t n_tokens, int64_t n) override {
    float* x = host(x_dev);
    const float* bias = host(bias_dev);
    rows(n_tokens, n, [&](int64_t t) { ops::add(x + t * n, bias, x + t * n, n); });
  }
  void copy(DevPtr src_dev, int64_t src_stride, DevPtr dst_dev, int64_t dst_stride, int64_t n_rows,
            int64_t n_cols) override {
    const float* src = host(src_dev);
    float* dst = host(dst_dev);
    for (int64_t r = 0; r < n_rows; ++r)
      std::memmove(dst + r * dst_stride, src + r * src_stride, static_cast<size_t>(n_cols) * 4);
  }
  void add(DevPtr a_dev, DevPtr b_dev, DevPtr out_dev, int64_t n) override {
    const float *a = host(a_dev), *b = host(b_dev);
    float* out = host(out_dev);
    flat(n, [&](int64_t i0, int64_t i1) { ops::add(a + i0, b + i0, out + i0, i1 - i0); });
  }
  void swiglu(DevPtr gate_dev, DevPtr up_dev, DevPtr out_dev, int64_t n) override {
    const float *gate = host(gate_dev), *up = host(up_dev);
    float* out = host(out_dev);
    flat(n, [&](int64_t i0, int64_t i1) { ops::swiglu(gate + i0, up + i0, out + i0, i1 - i0); });
  }
  void gelu(DevPtr x_dev, int64_t n) override {
    float* x = host(x_dev);
    flat(n, [&](int64_t i0, int64_t i1) { ops::gelu(x + i0, i1 - i0); });
  }
  void rope(DevPtr x_dev, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
            const backend::RopeParams& p) override {
    float* x = host(x_dev);
    if (p.n_rot > head_dim || p.n_rot % 2 != 0)
      throw std::invalid_argument("rope: n_rot " + std::to_string(p.n_rot) + " vs head dim " +
                                  std::to_string(head_dim));
    rows(n_tokens, n_heads * head_dim, [&](int64_t t) {
      float cos_sin[1024];  // n_rot <= head_dim; heads beyond 1024 dims are not a thing
      if (p.n_rot > 1024) throw std::invalid_argument("rope: n_rot > 1024");
      ops::rope_angles(pos0 + t, p, cos_sin);
      for (int64_t h = 0; h < n_heads; ++h)
        ops::rope_head(x + (t * n_heads + h) * head_dim, cos_sin, p);
    });
  }
  void kv_store(backend::KvCache& cache, int64_t layer, DevPtr k_dev, DevPtr v_dev,
                int64_t n_tokens, int64_t pos0) override {
    const float *k = host(k_dev), *v = host(v_dev);
    auto& c = static_cast<CpuKvCache&>(cache);
    check_range(c, layer, pos0 + n_tokens);
    const int64_t kv_dim = c.shape().n_kv_heads * c.shape().head_dim;
    rows(n_tokens, 2 * kv_dim,
         [&](int64_t t) { c.store(layer, pos0 + t, k + t * kv_dim, v + t * kv_dim); });
  }
  void attention(DevPtr q, const backend::KvCache& cache, int64_t layer, int64_t n_tokens,
                 int64_t pos0, const backend::AttentionParams& p, DevPtr out) override {
    const auto& c = static_cast<const CpuKvCache&>(cache);
    check_range(c, layer, pos0 + n_tokens);
    cpu_attention(pool_, scratch_, host(q), c, layer, n_tokens, pos0, p, host(out));
  }

 private:
  // fn(t) for every row t < n_rows, spread over the pool when the work is large.
  template <typename Fn>
  void rows(int64_t n_rows, int64_t row_len, Fn&& fn) {
    if (n_rows * row_len < kParallelMin || n_rows == 1) {
      for (int64_t t = 0; t < n_rows; ++t) fn(t);
      return;
    }
    pool_.parallel_for(n_rows, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) fn(t);
    });
  }
  template <typename Fn>
  void flat(int64_t n, Fn&& fn) {
    if (n < kParallelMin) return fn(0, n);
    pool_.parallel_for(n, 4096, [&](int64_t b, int64_t e) { fn(b, e); });
  }
  static void check_range(const CpuKvCache& c, int64_t layer, int64_t end) {
    if (layer < 0 || layer >= c.shape().n_layers || end > c.n_ctx())
      throw std::out_of_range("KV cache: layer " + std::to_string(layer) + " position " +
                              std::to_string(end) + " outside " +
                              std::to_string(c.shape().n_layers) + " layers x " +
                              std::to_string(c.n_ctx()) + " positions");
  }

  std::unique_ptr<ThreadPool> owned_pool_;  // null when the pool is the caller's
  ThreadPool& pool_;
  AttentionScratch scratch_;
};

}  // namespace

std::unique_ptr<backend::Backend> make_cpu_backend(std::optional<int> n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

std::unique_ptr<backend::Backend> make_cpu_backend(ThreadPool& pool) {
  return std::make_unique<CpuBackend>(pool);
}

}  // namespace hearth::kernels
