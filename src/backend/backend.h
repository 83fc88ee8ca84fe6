// The boundary between model code and the device that computes it.
//
// Model code (src/model) describes a forward pass as calls on a Backend: matmuls
// with weights the backend holds, norms, RoPE, attention over a KV cache and
// elementwise ops, on f32 activations in the backend's memory. It never touches
// that memory itself: activations are DevPtr handles, which it can offset and
// pass to ops but not read through, so a CUDA backend's device pointers fit the
// same interface. A CPU/GPU layer split is meant to give each layer its own
// Backend (the model then hands the residual stream across with
// download/upload); today a Model runs on one. Implementations: src/kernels
// (CPU). This header is the whole contract; model code includes nothing else of
// a backend.
//
// Activation layout everywhere: row-major [n_tokens][n] f32, contiguous.
// Pointer parameters say which side they live on: DevPtr is backend memory,
// plain pointers are host memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "gguf/types.h"

namespace hearth::backend {

// The address of f32 values in a backend's memory (host memory for the CPU
// backend, device memory for a GPU one). Model code offsets it and passes it to
// ops; only the backend that owns the memory turns it back into a raw pointer
// (address()), so activations cannot be dereferenced by accident.
class DevPtr {
 public:
  DevPtr() = default;
  // Wraps a raw address of the backend's own memory (backends, and tests of the
  // CPU backend, whose memory is the host's).
  explicit DevPtr(float* p) : p_(p) {}
  // n f32 values further on (n may be negative).
  DevPtr operator+(int64_t n) const { return DevPtr(p_ + n); }
  // The raw address, for the backend that owns the memory; model code never calls it.
  float* address() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const DevPtr&) const = default;

 private:
  float* p_ = nullptr;
};

// A 2-D weight, [rows][cols] (rows = output features), in whatever layout the
// backend chose (views of the mapped file, repacked or uploaded copies).
class Weight {
 public:
  virtual ~Weight() = default;
  virtual gguf::TensorType type() const = 0;
  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;
  // Bytes the weight occupies (what a matmul over it reads).
  virtual uint64_t bytes() const = 0;
  // Whether its matmuls read a copy the backend made (repacked or uploaded)
  // rather than the bytes it was loaded from; those are then read only for
  // embedding rows (get_rows), and the loader may let them go
  // (gguf::GgufFile::release_pages).
  virtual bool copied() const { return false; }
};

// n f32 values in the backend's memory, freed with the Buffer.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual DevPtr data() = 0;  // backend memory: pass it to ops
  virtual int64_t size() const = 0;
};

// Element type of the KV cache.
enum class KvType { F16, Q8_0 };

// Keys and values of every position of one sequence, per layer: for each
// layer and position, n_kv_heads * head_dim values of K and of V, stored as
// `type` in the backend's own layout (kv_store takes them in that order).
class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual int64_t n_ctx() const = 0;
  virtual KvType type() const = 0;
  virtual uint64_t bytes() const = 0;
};

struct KvShape {
  int64_t n_layers = 0;
  int64_t n_ctx = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
};

enum class RopeMode {
  Normal,  // pairs (x[2i], x[2i+1]): llama
  Neox,    // pairs (x[i], x[i + n_rot/2]): qwen2, falcon
};

struct RopeParams {
  RopeMode mode = RopeMode::Normal;
  int64_t n_rot = 0;        // leading dimensions of each head that rotate (<= head_dim)
  float freq_base = 10000;  // theta_i = pos * freq_scale * freq_base^(-2i/n_rot)
  float freq_scale = 1;     // 1 / linear scaling factor
};

struct AttentionParams {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // divides n_heads: each KV head serves n_heads / n_kv_heads query heads
  int64_t head_dim = 0;
  float scale = 1;  // scores are q.k * scale (1/sqrt(head_dim))
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int threads() const = 0;

  // ---- memory
  // `data` is the tensor's bytes in the file, host memory (GGUF order: rows of `cols` values);
  // it must outlive the weight (a CPU backend may view it in place).
  virtual std::unique_ptr<Weight> load_weight(gguf::TensorType type, const void* data, int64_t rows,
                                              int64_t cols) = 0;
  virtual std::unique_ptr<Buffer> alloc(int64_t n) = 0;  // n f32, zeroed
  virtual std::unique_ptr<KvCache> alloc_kv_cache(const KvShape& shape, KvType type) = 0;
  // n f32 from host memory `host` to backend memory `dst`.
  virtual void upload(const float* host, DevPtr dst, int64_t n) = 0;
  // n f32 from backend memory `src` to host memory `host`.
  virtual void download(DevPtr src, float* host, int64_t n) = 0;

  // ---- ops; every DevPtr is backend memory, [n_tokens][...] f32
  // y[t] = W x[t]: x [n_tokens][W.cols], y [n_tokens][W.rows].
  virtual void matmul(const Weight& w, DevPtr x, int64_t n_tokens, DevPtr y) = 0;
  // Several matmuls of one input (a layer's q, k and v; its gate and up):
  // ys[i] = W_i x, each as matmul computes it. A backend may prepare x once and
  // run the products as one piece of work; this default runs them in turn.
  struct MatmulOut {
    const Weight* w;
    DevPtr y;  // [n_tokens][w->rows()]
  };
  virtual void matmul_shared(std::span<const MatmulOut> outs, DevPtr x, int64_t n_tokens) {
    for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y);
  }
  // out[t] = row ids[t] of W (embedding lookup): out [n_tokens][W.cols]; ids
  // [n_tokens] in host memory.
  virtual void get_rows(const Weight& w, const int32_t* ids, int64_t n_tokens, DevPtr out) = 0;
  // out[t] = x[t] / rms(x[t]) * weight: x, out [n_tokens][n], weight [n]; out may be x.
  virtual void rmsnorm(DevPtr x, DevPtr weight, int64_t n_tokens, int64_t n, float eps,
                       DevPtr out) = 0;
  // out[t] = (x[t] - mean) / sqrt(var + eps) * weight + bias; out may be x.
  virtual void layernorm(DevPtr x, DevPtr weight, DevPtr bias, int64_t n_tokens, int64_t n,
                         float eps, DevPtr out) = 0;
  // x[t] += bias for every row t: x [n_tokens][n], bias [n].
  virtual void add_bias(DevPtr x, DevPtr bias, int64_t n_tokens, int64_t n) = 0;
  // dst[r][0..n_cols) = src[r][0..n_cols) for r < n_rows, rows `*_stride` floats apart
  // (splits fused QKV rows, picks out single rows). dst may overlap src when it
  // does not lie after it and the strides are equal (rows gathered to the front
  // of a buffer): the rows are copied in order, each as if through a temporary.
  virtual void copy(DevPtr src, int64_t src_stride, DevPtr dst, int64_t dst_stride, int64_t n_rows,
                    int64_t n_cols) = 0;
  // out = a + b elementwise over n values; out may alias a or b.
  virtual void add(DevPtr a, DevPtr b, DevPtr out, int64_t n) = 0;
  // out = silu(gate) * up elementwise over n values (SwiGLU); out may alias either.
  virtual void swiglu(DevPtr gate, DevPtr up, DevPtr out, int64_t n) = 0;
  // x = gelu(x) (tanh approximation) over n values.
  virtual void gelu(DevPtr x, int64_t n) = 0;
  // Rotates x [n_tokens][n_heads][head_dim] in place; token t sits at position pos0 + t.
  virtual void rope(DevPtr x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                    const RopeParams& p) = 0;
  // Stores k, v [n_tokens][n_kv_heads * head_dim] at positions pos0.. of `layer`.
  virtual void kv_store(KvCache& cache, int64_t layer, DevPtr k, DevPtr v, int64_t n_tokens,
                        int64_t pos0) = 0;
  // Causal attention of q [n_tokens][n_heads][head_dim] (token t at pos0 + t) over
  // the cache's positions 0 .. pos0 + t of `layer`: out [n_tokens][n_heads * head_dim].
  virtual void attention(DevPtr q, const KvCache& cache, int64_t layer, int64_t n_tokens,
                         int64_t pos0, const AttentionParams& p, DevPtr out) = 0;
};

}  // namespace hearth::backend
