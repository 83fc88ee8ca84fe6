// Kernels over the row-interleaved layout of repack.h: AVX-512 VNNI, and AVX2
// reading each 16-row group as two halves of 8. Internal to kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/repack.h"

namespace hearth::kernels {

// Activations as the packed kernels read them, one record per token:
//   int8 q[cols]        the Q8_0 values llama.cpp would compute (same rounding)
//   float d[blocks]     the Q8_0 scale, rounded through fp16 as Q8_0 stores it
//   int32 corr[blocks]  -offset * sum(q of the block): the weights are stored
//                       unsigned (u = q_w + offset), so sum(u * q) + corr = sum(q_w * q)
size_t packed_activation_stride(int64_t cols);  // bytes per token, a multiple of 64
void prepare_packed_activations_avx512(const float* x, int64_t cols, int offset, uint8_t* dst);
void prepare_packed_activations_avx2(const float* x, int64_t cols, int offset, uint8_t* dst);

// y[t * y_stride + r] for the rows of groups [g_begin, g_end) (rows < n_rows)
// and tokens [0, n_tokens) of `acts` (packed_activation_stride apart).
void gemm_packed_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                        int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                        float* y, int64_t y_stride);

// Q4_K, Q5_K and Q6_K: activations quantized as Q8_K (same values as llama.cpp),
// one record per token: int8 q[cols], float d[cols / 256], float dsum[cols /
// 32] (d times the sum of each 32-sub-block's q, for Q4_K's and Q5_K's mins), int32
// corr16[cols / 16] (-32 times the sum of each 16-sub-block's q: Q6_K's
// weights are stored as q + 32), int16 bsum[cols / 32] (the sums of dsum, for
// the AVX2 kernels' integer mins; at most 32 * 127).
size_t packed_q8k_activation_stride(int64_t cols);
void prepare_packed_activations_q8k(const float* x, int64_t cols, uint8_t* dst, SimdLevel level);
// Read-only views of the two records, token t at base + t * stride. An
// unnamed namespace on purpose: the kernels that read them are compiled for
// different instruction sets, and a shared out-of-line copy of an inline
// member would be compiled for one of them.
namespace {
struct ActsView {
  const uint8_t* base;
  size_t stride;
  int64_t cols;
  const int8_t* q(int64_t t) const { return reinterpret_cast<const int8_t*>(base + t * stride); }
  const float* d(int64_t t) const {
    return reinterpret_cast<const float*>(base + t * stride + cols);
  }
};
struct Q8Acts : ActsView {  // the Q4_0/Q8_0 record
  const int32_t* corr(int64_t t) const {
    return reinterpret_cast<const int32_t*>(base + t * stride + cols + cols / 32 * 4);
  }
};
struct Q8KActs : ActsView {  // the Q8_K record
  const float* dsum(int64_t t) const {
    return reinterpret_cast<const float*>(base + t * stride + cols + cols / 256 * 4);
  }
  const int32_t* corr16(int64_t t) const {
    return reinterpret_cast<const int32_t*>(base + t * stride + cols + cols / 256 * 4 +
                                            cols / 32 * 4);
  }
  const int16_t* bsum(int64_t t) const {
    return reinterpret_cast<const int16_t*>(corr16(t) + cols / 16);
  }
};

// Decode's software prefetch. One token reads every weight once, from 4 row
// groups at a time, each with its quants and its scales in separate regions:
// 8 (Q4_0) to 20 (Q4_K) streams per thread, more than the hardware
// prefetcher follows ahead on AMD Zen 5, where Q4_0's matrix x vector read
// memory at 50 GB/s with two threads without this and 63 with it. A tile
// asks for `lines` 64-byte lines from p on, the lines it will read about
// kDecodeAhead bytes later in that stream.
constexpr int64_t kDecodeAhead = 2048;
inline void prefetch_lines(const void* p, int lines) {
  for (int i = 0; i < lines; ++i) __builtin_prefetch(static_cast<const char*>(p) + 64 * i, 0, 3);
}
}  // namespace

void gemm_packed_q4k_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride);
void gemm_packed_q5k_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride);
void gemm_packed_q6k_avx512(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                            int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                            float* y, int64_t y_stride);

// The same contracts at the AVX2 level (same activation records; Q8_0's copy
// holds signed weights, packed_layout(..., signed_q8 = true), and its tile
// ignores corr).
void gemm_packed_avx2(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                      int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                      float* y, int64_t y_stride);
void gemm_packed_q4k_avx2(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                          int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                          float* y, int64_t y_stride);
void gemm_packed_q5k_avx2(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                          int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                          float* y, int64_t y_stride);
void gemm_packed_q6k_avx2(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                          int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                          float* y, int64_t y_stride);

// The AVX2 tiles compiled a second time with AVX-VNNI (gemm_packed_avxvnni.cpp,
// gemm_packed_k_avxvnni.cpp): the same contracts, except that Q8_0's copy
// holds u = q + 128 as at AVX-512 (its corr applies), since vpdpbusd sums the
// products in int32 where AVX2's vpmaddubsw would saturate an i16.
void gemm_packed_avxvnni(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                         int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                         float* y, int64_t y_stride);
void gemm_packed_q4k_avxvnni(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                             int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                             float* y, int64_t y_stride);
void gemm_packed_q5k_avxvnni(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                             int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                             float* y, int64_t y_stride);
void gemm_packed_q6k_avxvnni(const PackedLayout& layout, const uint8_t* packed, int64_t g_begin,
                             int64_t g_end, int64_t n_rows, const uint8_t* acts, int64_t n_tokens,
                             float* y, int64_t y_stride);

}  // namespace hearth::kernels
