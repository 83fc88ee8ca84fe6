// The CPU backend's KV cache and attention (internal to src/kernels).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "kernels/ops.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"
#include "quant/rows.h"

namespace hearth::kernels {

// K and V of layer l, position p: a row of n_kv_heads * head_dim values in f16
// or q8_0 blocks, at [l][p] of two flat byte arrays.
class CpuKvCache final : public backend::KvCache {
 public:
  CpuKvCache(const backend::KvShape& s, backend::KvType type) : shape_(s), type_(type) {
    kv_dim_ = s.n_kv_heads * s.head_dim;
    if (s.n_layers <= 0 || s.n_ctx <= 0 || kv_dim_ <= 0)
      throw std::invalid_argument("KV cache: bad shape (layers " + std::to_string(s.n_layers) +
                                  ", ctx " + std::to_string(s.n_ctx) + ", kv dim " +
                                  std::to_string(kv_dim_) + ")");
    if (type == backend::KvType::Q8_0 && s.head_dim % 32 != 0)
      throw std::invalid_argument(
          "KV cache: q8_0 needs a head dimension that is a multiple of 32 (" +
          std::to_string(s.head_dim) + ")");
    row_bytes_ = type == backend::KvType::F16 ? static_cast<uint64_t>(kv_dim_) * 2
                                              : gguf::row_bytes(gguf::TensorType::Q8_0, kv_dim_);
    layer_bytes_ = row_bytes_ * static_cast<uint64_t>(s.n_ctx);
    // In huge pages where the kernel gives them, as the packed weights: one
    // KV head's keys are 64-256 bytes every row, so generation deep in a
    // context touches a new 4 KiB page every few keys of every head, each a
    // TLB miss (at a depth of 4096, 94 MB of cache a token for TinyLlama).
    // Zeroed, so that no byte is left unwritten.
    total_bytes_ = layer_bytes_ * static_cast<uint64_t>(s.n_layers);
    k_ = allocate_packed(total_bytes_);
    v_ = allocate_packed(total_bytes_);
    std::memset(k_.get(), 0, total_bytes_);
    std::memset(v_.get(), 0, total_bytes_);
  }
  int64_t n_ctx() const override { return shape_.n_ctx; }
  backend::KvType type() const override { return type_; }
  uint64_t bytes() const override { return 2 * total_bytes_; }

  const backend::KvShape& shape() const { return shape_; }
  uint8_t* k_row(int64_t layer, int64_t pos) { return k_.get() + offset(layer, pos); }
  uint8_t* v_row(int64_t layer, int64_t pos) { return v_.get() + offset(layer, pos); }
  const uint8_t* k_row(int64_t layer, int64_t pos) const { return k_.get() + offset(layer, pos); }
  const uint8_t* v_row(int64_t layer, int64_t pos) const { return v_.get() + offset(layer, pos); }

  void store_row(const float* src, uint8_t* dst) const {
    if (type_ == backend::KvType::F16)
      ops::f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), kv_dim_);
    else
      quant::quantize_row(gguf::TensorType::Q8_0, src, dst, kv_dim_);
  }
  // Head `h` (head_dim values) of a stored row, as f32.
  void load_head(const uint8_t* row, int64_t h, float* dst) const {
    const int64_t hd = shape_.head_dim;
    if (type_ == backend::KvType::F16) {
      ops::f16_to_f32(reinterpret_cast<const uint16_t*>(row) + h * hd, dst, hd);
    } else {
      const uint64_t off = gguf::row_bytes(gguf::TensorType::Q8_0, h * hd);
      quant::dequantize_row(gguf::TensorType::Q8_0, row + off, dst, hd);
    }
  }

 private:
  uint64_t offset(int64_t layer, int64_t pos) const {
    return layer_bytes_ * static_cast<uint64_t>(layer) + row_bytes_ * static_cast<uint64_t>(pos);
  }
  backend::KvShape shape_;
  backend::KvType type_;
  int64_t kv_dim_ = 0;
  uint64_t row_bytes_ = 0, layer_bytes_ = 0, total_bytes_ = 0;
  PackedBuffer k_, v_;
};

// Per-thread attention scratch, grown on demand (never per token).
using AttentionScratch = std::vector<std::vector<float>>;

// The tiled path of cpu_attention on AVX-512 (attention_avx512.cpp) and AVX2
// (attention_avx2.cpp), head_dim a multiple of 16: query tokens [t0, t1) of
// heads [h0, h0 + group), which share one KV head whose keys and values are
// kf, vf [pos0 + t1][head_dim] f32; token t attends to keys 0 .. pos0 + t. q
// and out as in cpu_attention. scratch holds
// attention_tile_scratch_floats(pos0 + t1, head_dim) floats (enough for both).
size_t attention_tile_scratch_floats(int64_t n_keys, int64_t head_dim);
// The tiles' rows r0 .. r0 + lanes - 1 (row r: token t0 + r / group, head h0 +
// r % group; lanes past the n real rows repeat the last one): their output
// rows orow[lanes], key limits limit[lanes] (pos0 + token + 1), and their
// queries transposed into qt [head_dim][lanes].
void attention_tile_rows(const float* q, float* out, int64_t t0, int64_t pos0, int64_t h0,
                         int64_t group, int64_t n_heads, int64_t head_dim, int64_t r0, int n,
                         int lanes, float** orow, int32_t* limit, float* qt);
void attend_tiled_avx512(const float* q, const float* kf, const float* vf, int64_t t0, int64_t t1,
                         int64_t pos0, int64_t h0, int64_t group, int64_t n_heads, int64_t head_dim,
                         float scale, float* scratch, float* out);
void attend_tiled_avx2(const float* q, const float* kf, const float* vf, int64_t t0, int64_t t1,
                       int64_t pos0, int64_t h0, int64_t group, int64_t n_heads, int64_t head_dim,
                       float scale, float* scratch, float* out);

// The per-row path of cpu_attention for one query row q [head_dim] over keys
// kf and values vf [nk][head_dim] (the cache's values as f32), as llama.cpp's
// CPU flash attention computes it: Q rounded to the cache's type, an online
// softmax, and for an f16 cache the output accumulated in f16. The reference
// for attend_rows_f16_avx2, and the path for a q8_0 cache and other head
// sizes. scratch holds 3 x head_dim floats.
void attend_row_online(const float* q, const float* kf, const float* vf, int64_t nk,
                       int64_t head_dim, float scale, backend::KvType type, float* scratch,
                       float* out);
// The per-row path of cpu_attention over an f16 cache, on AVX2 (with FMA and
// F16C), head_dim a multiple of 16 and at least 64 (where llama.cpp's f16 dot
// product is ops::dot's): the query rows q [n_rows][head_dim] (the heads of
// one token that share one KV head) attend to keys 0 .. nk - 1, read straight
// from the cache (k and v: that head's first key and value; stride: f16
// values from one position to the next), and write out [n_rows][head_dim]. Each key and value is
// converted once for all the rows; the arithmetic is attend_row_online's.
// scratch holds attention_row_scratch_floats(n_rows, head_dim) floats.
size_t attention_row_scratch_floats(int64_t n_rows, int64_t head_dim);
void attend_rows_f16_avx2(const float* q, float* out, int n_rows, const uint16_t* k,
                          const uint16_t* v, int64_t stride, int64_t nk, int64_t head_dim,
                          float scale, float* scratch);
// The same on AVX-512, 16 lanes at a time: the same bits (the arithmetic is
// element by element; the scores keep the AVX2 dot product's order).
void attend_rows_f16_avx512(const float* q, float* out, int n_rows, const uint16_t* k,
                            const uint16_t* v, int64_t stride, int64_t nk, int64_t head_dim,
                            float scale, float* scratch);

// std::exp of x [n] (each <= 0; n a multiple of 8, or of 16 for _avx512) into
// y, as those kernels compute their softmax factors (expf_libm.h): exposed
// for the test that holds them to the C library's bits.
void expf_libm_avx2(const float* x, float* y, int64_t n);
void expf_libm_avx512(const float* x, float* y, int64_t n);

// Causal attention of q [n_tokens][n_heads][head_dim] over the cache (see Backend::attention).
void cpu_attention(ThreadPool& pool, AttentionScratch& scratch, const float* q, const CpuKvCache& c,
                   int64_t layer, int64_t n_tokens, int64_t pos0, const backend::AttentionParams& p,
                   float* out);

}  // namespace hearth::kernels
