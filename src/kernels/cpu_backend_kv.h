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

// K and V of layer l, KV head h, position p: head_dim values in f16 or q8_0
// blocks, at [l][h][p] of two flat byte arrays. Head-major, so that one
// head's keys (and values) are one contiguous stream: generation reads each
// KV head's keys and values position after position, one work item a head,
// and with the heads of a position side by side (one row of n_kv_heads *
// head_dim) it read head_dim values of every row, 128 bytes of every 512 for
// TinyLlama, which the hardware prefetchers follow poorly (AttentionDecode
// over 4096 positions took 9-17% longer that way on Zen 5, alternated).
class CpuKvCache final : public backend::KvCache {
 public:
  CpuKvCache(const backend::KvShape& s, backend::KvType type) : shape_(s), type_(type) {
    if (s.n_layers <= 0 || s.n_ctx <= 0 || s.n_kv_heads <= 0 || s.head_dim <= 0)
      throw std::invalid_argument("KV cache: bad shape (layers " + std::to_string(s.n_layers) +
                                  ", ctx " + std::to_string(s.n_ctx) + ", kv heads " +
                                  std::to_string(s.n_kv_heads) + ", head dim " +
                                  std::to_string(s.head_dim) + ")");
    if (type == backend::KvType::Q8_0 && s.head_dim % 32 != 0)
      throw std::invalid_argument(
          "KV cache: q8_0 needs a head dimension that is a multiple of 32 (" +
          std::to_string(s.head_dim) + ")");
    head_bytes_ = type == backend::KvType::F16
                      ? static_cast<uint64_t>(s.head_dim) * 2
                      : gguf::row_bytes(gguf::TensorType::Q8_0, static_cast<uint64_t>(s.head_dim));
    stream_bytes_ = head_bytes_ * static_cast<uint64_t>(s.n_ctx);
    // In huge pages where the kernel gives them, as the packed weights: at a
    // depth of 4096, 94 MB of cache a token for TinyLlama, a TLB miss every
    // 4 KiB page otherwise. Zeroed, so that no byte is left unwritten.
    total_bytes_ =
        stream_bytes_ * static_cast<uint64_t>(s.n_kv_heads) * static_cast<uint64_t>(s.n_layers);
    k_ = allocate_packed(total_bytes_);
    v_ = allocate_packed(total_bytes_);
    std::memset(k_.get(), 0, total_bytes_);
    std::memset(v_.get(), 0, total_bytes_);
  }
  int64_t n_ctx() const override { return shape_.n_ctx; }
  backend::KvType type() const override { return type_; }
  uint64_t bytes() const override { return 2 * total_bytes_; }

  const backend::KvShape& shape() const { return shape_; }
  // Head h's key (value) at position pos of layer; the next position's is
  // head_bytes() further.
  const uint8_t* k_head(int64_t layer, int64_t h, int64_t pos) const {
    return k_.get() + offset(layer, h, pos);
  }
  const uint8_t* v_head(int64_t layer, int64_t h, int64_t pos) const {
    return v_.get() + offset(layer, h, pos);
  }
  uint64_t head_bytes() const { return head_bytes_; }

  // Stores k and v [n_kv_heads * head_dim] (f32) at position pos of layer.
  // A q8_0 head is whole blocks (head_dim a multiple of 32), so quantizing
  // head by head gives the blocks that quantizing the row would.
  void store(int64_t layer, int64_t pos, const float* k, const float* v) {
    const int64_t hd = shape_.head_dim;
    for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
      store_head(k + h * hd, k_.get() + offset(layer, h, pos));
      store_head(v + h * hd, v_.get() + offset(layer, h, pos));
    }
  }
  // A stored head (head_dim values), as f32.
  void load_head(const uint8_t* head, float* dst) const {
    if (type_ == backend::KvType::F16)
      ops::f16_to_f32(reinterpret_cast<const uint16_t*>(head), dst, shape_.head_dim);
    else
      quant::dequantize_row(gguf::TensorType::Q8_0, head, dst, shape_.head_dim);
  }

 private:
  void store_head(const float* src, uint8_t* dst) const {
    if (type_ == backend::KvType::F16)
      ops::f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), shape_.head_dim);
    else
      quant::quantize_row(gguf::TensorType::Q8_0, src, dst, shape_.head_dim);
  }
  uint64_t offset(int64_t layer, int64_t h, int64_t pos) const {
    return stream_bytes_ * static_cast<uint64_t>(layer * shape_.n_kv_heads + h) +
           head_bytes_ * static_cast<uint64_t>(pos);
  }
  backend::KvShape shape_;
  backend::KvType type_;
  uint64_t head_bytes_ = 0, stream_bytes_ = 0, total_bytes_ = 0;
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
// from the cache (k and v: that head's keys and values [nk][head_dim], f16),
// and write out [n_rows][head_dim]. Each key and value is
// converted once for all the rows; the arithmetic is attend_row_online's.
// scratch holds attention_row_scratch_floats(n_rows, head_dim) floats.
size_t attention_row_scratch_floats(int64_t n_rows, int64_t head_dim);
void attend_rows_f16_avx2(const float* q, float* out, int n_rows, const uint16_t* k,
                          const uint16_t* v, int64_t nk, int64_t head_dim, float scale,
                          float* scratch);
// The same on AVX-512, 16 lanes at a time: the same bits (the arithmetic is
// element by element; the scores keep the AVX2 dot product's order).
void attend_rows_f16_avx512(const float* q, float* out, int n_rows, const uint16_t* k,
                            const uint16_t* v, int64_t nk, int64_t head_dim, float scale,
                            float* scratch);

// std::exp of x [n] (each <= 0; n a multiple of 8) into y, as those kernels
// compute their softmax factors (expf_libm.h, on AVX-512 in zmm): exposed
// for the test that holds them to the C library's bits.
void expf_libm_avx2(const float* x, float* y, int64_t n);
void expf_libm_avx512(const float* x, float* y, int64_t n);

// Causal attention of q [n_tokens][n_heads][head_dim] over the cache (see Backend::attention).
void cpu_attention(ThreadPool& pool, AttentionScratch& scratch, const float* q, const CpuKvCache& c,
                   int64_t layer, int64_t n_tokens, int64_t pos0, const backend::AttentionParams& p,
                   float* out);

}  // namespace hearth::kernels
