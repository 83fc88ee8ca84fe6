// Quantizers and dequantizers of the 32-weight block types (Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1). The arithmetic follows ggml's reference quantizers
// operation for operation (same float operations in the same order, no fused
// multiply-add), because hearth's files must be byte-identical to llama.cpp's.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "quant/decode.h"
#include "quant/fp16.h"
#include "quant/row_impl.h"

namespace hearth::quant::detail {
namespace {

// The value of largest magnitude, with its sign; the first one wins a tie.
// All-zero input gives +0.0 (so a symmetric scale max / -n becomes -0.0).
float signed_absmax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    if (a > amax) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* lo, float* hi) {
  float mn = FLT_MAX;
  float mx = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
  *lo = mn;
  *hi = mx;
}

void store_u32_le(uint8_t* dst, uint32_t v) {
  for (int k = 0; k < 4; ++k) dst[k] = static_cast<uint8_t>(v >> (8 * k));
}

}  // namespace

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = signed_absmax(x) / -8.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      // Truncation after +8.5 rounds half up into 0..16; 16 is clamped to 15.
      const int lo = std::min(15, static_cast<int>(x[j] * inv + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + kQK / 2] * inv + 8.5f));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(mn);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(15, static_cast<int>((x[j] - mn) * inv + 0.5f));
      const int hi = std::min(15, static_cast<int>((x[j + kQK / 2] - mn) * inv + 0.5f));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = signed_absmax(x) / -16.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    uint32_t high_bits = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>(x[j] * inv + 16.5f));
      const int hi = std::min(31, static_cast<int>(x[j + kQK / 2] * inv + 16.5f));
      y[b].qs[j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      high_bits |= static_cast<uint32_t>(lo >> 4) << j;
      high_bits |= static_cast<uint32_t>(hi >> 4) << (j + kQK / 2);
    }
    store_u32_le(y[b].qh, high_bits);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(mn);
    uint32_t high_bits = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>((x[j] - mn) * inv + 0.5f));
      const int hi = std::min(31, static_cast<int>((x[j + kQK / 2] - mn) * inv + 0.5f));
      y[b].qs[j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      high_bits |= static_cast<uint32_t>(lo >> 4) << j;
      high_bits |= static_cast<uint32_t>(hi >> 4) << (j + kQK / 2);
    }
    store_u32_le(y[b].qh, high_bits);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * inv));
  }
}

void quantize_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * inv));
      sum += y[b].qs[j];
    }
    y[b].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

namespace {

// The 32-weight dequantizers decode each block to integers (decode.h) and scale
// them as ggml's reference does: x = q * d (+ m).
template <typename Block, float (*Decode)(const Block&, int8_t*)>
void dequantize_symmetric(const Block* x, float* y, int64_t n) {
  int8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = Decode(x[b], q);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d;
  }
}

template <typename Block, void (*Decode)(const Block&, int8_t*, float&, float&)>
void dequantize_affine(const Block* x, float* y, int64_t n) {
  int8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    float d, m;
    Decode(x[b], q, d, m);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

}  // namespace

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  dequantize_symmetric<BlockQ4_0, decode::q4_0>(x, y, n);
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  dequantize_affine<BlockQ4_1, decode::q4_1>(x, y, n);
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  dequantize_symmetric<BlockQ5_0, decode::q5_0>(x, y, n);
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  dequantize_affine<BlockQ5_1, decode::q5_1>(x, y, n);
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

}  // namespace hearth::quant::detail
