#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/gemm.h"
#include "kernels/gemm_packed.h"
#include "kernels/repack.h"
#include "quant/rows.h"

namespace hearth::kernels {

using gguf::TensorType;

GemmKernel gemm_kernel(TensorType weight, SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return detail::gemm_kernel_scalar(weight);
    case SimdLevel::kAvx2:
      return detail::gemm_kernel_avx2(weight);
    case SimdLevel::kAvxVnni:  // only packed kernels (below); the rest run at kAvx2
      return nullptr;
    case SimdLevel::kAvx512:
      return detail::gemm_kernel_avx512(weight);
  }
  return nullptr;
}

GemmKernel best_gemm_kernel(TensorType weight, SimdLevel level) {
  for (int l = static_cast<int>(level); l >= 0; --l) {
    const auto lv = static_cast<SimdLevel>(l);
    if (!cpu_supports(lv)) continue;
    if (GemmKernel k = gemm_kernel(weight, lv)) return k;
  }
  return nullptr;
}

namespace {

// Rows handed to one kernel call: enough to amortize the activation loads,
// few enough that the rows' weights stay in L1/L2 across a token block.
constexpr int64_t kRowBlock = 16;
// Tokens per kernel call: the row block's weights stay in L1/L2 while the
// kernel sweeps them.
constexpr int64_t kTokenBlock = 64;

// std::vector storage on 64-byte boundaries (aligned vector loads).
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

SimdLevel level_of(TensorType type, SimdLevel cap) {
  for (int l = static_cast<int>(cap); l > 0; --l) {
    const auto lv = static_cast<SimdLevel>(l);
    if (cpu_supports(lv) && gemm_kernel(type, lv)) return lv;
  }
  return SimdLevel::kScalar;
}

}  // namespace

struct WeightMatrix::Impl {
  GemmKernel kernel = nullptr;
  SimdLevel level = SimdLevel::kScalar;
  TensorType act = TensorType::F32;
  size_t w_row_bytes = 0;
  size_t a_row_bytes = 0;
  // Q4_0/Q8_0/Q4_K/Q5_K/Q6_K on AVX2 and AVX-512: a row-interleaved copy
  // (repack.h says why).
  PackedBuffer packed;
  PackedLayout layout;
};

WeightMatrix::WeightMatrix(TensorType type, const void* data, int64_t rows, int64_t cols)
    : WeightMatrix(type, data, rows, cols, best_simd_level()) {}

WeightMatrix::WeightMatrix(TensorType type, const void* data, int64_t rows, int64_t cols,
                           SimdLevel level)
    : type_(type), data_(data), rows_(rows), cols_(cols), impl_(std::make_unique<Impl>()) {
  const gguf::TypeTraits* traits = gguf::type_traits(type);
  const std::string name(gguf::type_name(type));
  if (!traits || !detail::gemm_kernel_scalar(type))
    throw std::invalid_argument("weight matrix: no kernels for tensor type " + name);
  if (rows <= 0 || cols <= 0 || cols % traits->block_size != 0)
    throw std::invalid_argument("weight matrix of type " + name + ": shape " +
                                std::to_string(rows) + " x " + std::to_string(cols) +
                                " (columns must be a positive multiple of " +
                                std::to_string(traits->block_size) + ")");
  if (!data) throw std::invalid_argument("weight matrix of type " + name + ": no data");
  impl_->level = level_of(type, level);
  impl_->kernel = gemm_kernel(type, impl_->level);
  impl_->act = activation_type(type);
  impl_->w_row_bytes = gguf::row_bytes(type, cols);
  impl_->a_row_bytes = activation_row_bytes(impl_->act, cols);
  // The packed layout serves every SIMD level (AVX2 and AVX-VNNI read a group
  // as two halves of 8 rows); only AVX2, which has no vpdpbusd, stores Q8_0
  // signed.
  for (SimdLevel lv : {SimdLevel::kAvx512, SimdLevel::kAvxVnni, SimdLevel::kAvx2}) {
    if (!cpu_supports(lv) || level < lv || !can_pack(type)) continue;
    impl_->level = lv;
    impl_->layout = packed_layout(type, rows, cols, lv == SimdLevel::kAvx2);
    impl_->packed = pack_rows(impl_->layout, data, rows, cols);
    break;
  }
}

WeightMatrix::~WeightMatrix() = default;
WeightMatrix::WeightMatrix(WeightMatrix&&) noexcept = default;
WeightMatrix& WeightMatrix::operator=(WeightMatrix&&) noexcept = default;

SimdLevel WeightMatrix::level() const { return impl_->level; }
bool WeightMatrix::packed() const { return impl_->packed != nullptr; }

void WeightMatrix::multiply(const float* x, int64_t n_tokens, float* y, ThreadPool& pool) const {
  if (n_tokens <= 0) return;
  const Impl& im = *impl_;
  if (im.packed) {
    const Product p{this, y};
    return multiply_shared({&p, 1}, x, n_tokens, pool);
  }
  // Quantized activations: reused across calls on this thread (no page faults
  // per matmul).
  thread_local std::vector<uint8_t> act_buffer;
  const size_t need = im.a_row_bytes * n_tokens + 64;
  if (act_buffer.size() < need) act_buffer.resize(need);
  uint8_t* act = act_buffer.data();
  const int64_t cols = cols_;
  pool.parallel_for(n_tokens, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      quantize_activations(im.act, x + t * cols, act + t * im.a_row_bytes, cols, im.level);
  });

  // Threads take blocks of kRowBlock rows (all tokens) from a shared counter,
  // so a thread slowed by a neighbour on a shared machine does not hold the
  // others up at the end of the call.
  const auto* w = static_cast<const uint8_t*>(data_);
  const int64_t row_blocks = (rows_ + kRowBlock - 1) / kRowBlock;
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t blk; (blk = next.fetch_add(1, std::memory_order_relaxed)) < row_blocks;) {
      const int64_t r = blk * kRowBlock;
      const int nr = static_cast<int>(std::min(kRowBlock, rows_ - r));
      for (int64_t t = 0; t < n_tokens; t += kTokenBlock) {
        const int nt = static_cast<int>(std::min(kTokenBlock, n_tokens - t));
        im.kernel(cols, w + r * im.w_row_bytes, im.w_row_bytes, nr, act + t * im.a_row_bytes,
                  im.a_row_bytes, nt, y + t * rows_ + r, rows_);
      }
    }
  });
}

namespace {

using PackedGemm = void (*)(const PackedLayout&, const uint8_t*, int64_t, int64_t, int64_t,
                            const uint8_t*, int64_t, float*, int64_t);

PackedGemm packed_gemm(TensorType type, SimdLevel level) {
  const bool avx2 = level == SimdLevel::kAvx2, vnni = level == SimdLevel::kAvxVnni;
  switch (type) {
    case TensorType::Q4_K:
      return avx2 ? gemm_packed_q4k_avx2 : vnni ? gemm_packed_q4k_avxvnni : gemm_packed_q4k_avx512;
    case TensorType::Q5_K:
      return avx2 ? gemm_packed_q5k_avx2 : vnni ? gemm_packed_q5k_avxvnni : gemm_packed_q5k_avx512;
    case TensorType::Q6_K:
      return avx2 ? gemm_packed_q6k_avx2 : vnni ? gemm_packed_q6k_avxvnni : gemm_packed_q6k_avx512;
    default:
      return avx2 ? gemm_packed_avx2 : vnni ? gemm_packed_avxvnni : gemm_packed_avx512;
  }
}

bool is_k_type(TensorType type) {
  return type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
}

}  // namespace

bool WeightMatrix::same_packed_activations(const WeightMatrix& a, const WeightMatrix& b) {
  const Impl &x = *a.impl_, &y = *b.impl_;
  if (!x.packed || !y.packed || a.cols_ != b.cols_ || x.level != y.level) return false;
  const bool k = is_k_type(x.layout.type);
  return k == is_k_type(y.layout.type) && (k || x.layout.offset == y.layout.offset);
}

void WeightMatrix::multiply_shared(std::span<const Product> products, const float* x,
                                   int64_t n_tokens, ThreadPool& pool) {
  constexpr size_t kMaxProducts = 8;
  if (products.size() > kMaxProducts)
    throw std::invalid_argument("multiply_shared: more than 8 products");
  if (n_tokens <= 0 || products.empty()) return;
  const WeightMatrix& first = *products.front().w;
  bool shared = true;
  for (const Product& p : products) shared = shared && same_packed_activations(first, *p.w);
  if (!shared) {
    for (const Product& p : products) p.w->multiply(x, n_tokens, p.y, pool);
    return;
  }
  // The activations, quantized once into the record every product's kernel reads.
  const Impl& im = *first.impl_;
  const int64_t cols = first.cols_;
  const bool k_type = is_k_type(im.layout.type), ymm = is_ymm_level(im.level);
  const size_t stride =
      k_type ? packed_q8k_activation_stride(cols) : packed_activation_stride(cols);
  thread_local std::vector<uint8_t, AlignedAllocator<uint8_t>> act_buffer;
  if (act_buffer.size() < stride * n_tokens) act_buffer.resize(stride * n_tokens);
  uint8_t* act = act_buffer.data();
  pool.parallel_for(n_tokens, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (k_type)
        prepare_packed_activations_q8k(x + t * cols, cols, act + t * stride, im.level);
      else if (ymm)
        prepare_packed_activations_avx2(x + t * cols, cols, im.layout.offset, act + t * stride);
      else
        prepare_packed_activations_avx512(x + t * cols, cols, im.layout.offset, act + t * stride);
    }
  });
  // The products' row groups, end to end: work [g0, g1) of that span runs as
  // one kernel call per product it touches.
  int64_t ends[kMaxProducts];
  int64_t groups = 0;
  for (size_t i = 0; i < products.size(); ++i)
    ends[i] = groups += products[i].w->impl_->layout.groups;
  auto run = [&](int64_t g0, int64_t g1) {
    int64_t begin = 0;
    for (size_t i = 0; i < products.size() && g0 < g1; begin = ends[i++]) {
      if (g0 >= ends[i]) continue;
      const WeightMatrix& w = *products[i].w;
      const Impl& wi = *w.impl_;
      const int64_t e = std::min(g1, ends[i]);
      packed_gemm(wi.layout.type, im.level)(wi.layout, wi.packed.get(), g0 - begin, e - begin,
                                            w.rows_, act, n_tokens, products[i].y, w.rows_);
      g0 = e;
    }
  };
  // Threads take chunks of row groups (all tokens) from a shared counter.
  // For a GEMM a chunk is 2 groups (one pair of the 2 x 6 tiles). For a vector
  // the chunks shrink as the matrix is used up ("guided"): each takes a
  // 1/(2 x threads) share of the groups left, in multiples of 4 (one tile),
  // at least 4. Long early chunks keep the decode tiles' prefetches ahead of
  // them (contiguous memory); short late ones let the threads finish together
  // rather than one waiting for another's last long chunk, which was 13% of
  // both threads' time in TinyLlama Q4_0 generation on Zen 5 with 4 equal
  // chunks per thread.
  if (n_tokens == 1) {
    const int64_t share = 2 * pool.size();
    std::atomic<int64_t> next{0};
    pool.run([&](int, int) {
      int64_t g0 = next.load(std::memory_order_relaxed);
      while (g0 < groups) {
        const int64_t size = std::max<int64_t>(4, (groups - g0) / share / 4 * 4);
        if (!next.compare_exchange_weak(g0, g0 + size, std::memory_order_relaxed)) continue;
        run(g0, std::min(groups, g0 + size));
        g0 = next.load(std::memory_order_relaxed);
      }
    });
    return;
  }
  const int64_t chunk = 2, chunks = (groups + chunk - 1) / chunk;
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
      run(c * chunk, std::min(groups, c * chunk + chunk));
  });
}

void WeightMatrix::dequantize_row(int64_t r, float* out) const {
  quant::dequantize_row(type_, static_cast<const uint8_t*>(data_) + r * impl_->w_row_bytes, out,
                        cols_);
}

}  // namespace hearth::kernels
