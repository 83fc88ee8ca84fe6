// Scalar decoders of ggml's quantized blocks into small integers and scales: the
// one place that knows the bit layouts (quant/blocks.h). quant's dequantizers
// (rows.h), the kernels' scalar reference dot products, the repacker and the
// kernel tests all decode through these.
#pragma once

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/fp16.h"

namespace hearth::quant::decode {

// Q4_0: q[i] in [-8, 7], x = d * q. Returns d.
inline float q4_0(const BlockQ4_0& b, int8_t q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
    q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
  }
  return fp16_to_fp32(b.d);
}

// Q4_1: q[i] in [0, 15], x = d * q + m.
inline void q4_1(const BlockQ4_1& b, int8_t q[32], float& d, float& m) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(b.qs[j] & 0xF);
    q[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
  }
  d = fp16_to_fp32(b.d);
  m = fp16_to_fp32(b.m);
}

// The 5th bits of weight j (low half) and j + 16 (high half) of a Q5 block.
inline void q5_high_bits(const uint8_t qh_bytes[4], int j, int& lo, int& hi) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  lo = ((qh >> j) & 1) << 4;
  hi = ((qh >> (j + 16)) & 1) << 4;
}

// Q5_0: q[i] in [-16, 15], x = d * q. Returns d.
inline float q5_0(const BlockQ5_0& b, int8_t q[32]) {
  for (int j = 0; j < 16; ++j) {
    int lo, hi;
    q5_high_bits(b.qh, j, lo, hi);
    q[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | lo) - 16);
    q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | hi) - 16);
  }
  return fp16_to_fp32(b.d);
}

// Q5_1: q[i] in [0, 31], x = d * q + m.
inline void q5_1(const BlockQ5_1& b, int8_t q[32], float& d, float& m) {
  for (int j = 0; j < 16; ++j) {
    int lo, hi;
    q5_high_bits(b.qh, j, lo, hi);
    q[j] = static_cast<int8_t>((b.qs[j] & 0xF) | lo);
    q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) | hi);
  }
  d = fp16_to_fp32(b.d);
  m = fp16_to_fp32(b.m);
}

// The j-th (0..7) six-bit scale and min of a Q4_K/Q5_K super-block.
inline void k_scale_min(const uint8_t s[12], int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// A K-type super-block as integers: x[i] = d * sc[i / group] * q[i] - dmin * mn[i / group].
struct KBlock {
  int8_t q[256];
  int sc[16];
  int mn[16];
  int group;  // weights per scale: 32 (Q4_K, Q5_K) or 16 (Q6_K)
  float d, dmin;
};

inline void q4_k(const BlockQ4_K& b, KBlock& k) {
  k.group = 32;
  k.d = fp16_to_fp32(b.d);
  k.dmin = fp16_to_fp32(b.dmin);
  for (int j = 0; j < 8; ++j) k_scale_min(b.scales, j, k.sc[j], k.mn[j]);
  // Each 32 bytes of qs hold two sub-blocks: low nibbles, then high nibbles.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      k.q[64 * c + l] = static_cast<int8_t>(b.qs[32 * c + l] & 0xF);
      k.q[64 * c + 32 + l] = static_cast<int8_t>(b.qs[32 * c + l] >> 4);
    }
}

inline void q5_k(const BlockQ5_K& b, KBlock& k) {
  k.group = 32;
  k.d = fp16_to_fp32(b.d);
  k.dmin = fp16_to_fp32(b.dmin);
  for (int j = 0; j < 8; ++j) k_scale_min(b.scales, j, k.sc[j], k.mn[j]);
  // qh bit 2c is the 5th bit of sub-block 2c, bit 2c + 1 of sub-block 2c + 1.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int h0 = ((b.qh[l] >> (2 * c)) & 1) << 4, h1 = ((b.qh[l] >> (2 * c + 1)) & 1) << 4;
      k.q[64 * c + l] = static_cast<int8_t>((b.qs[32 * c + l] & 0xF) | h0);
      k.q[64 * c + 32 + l] = static_cast<int8_t>((b.qs[32 * c + l] >> 4) | h1);
    }
}

inline void q6_k(const BlockQ6_K& b, KBlock& k) {
  k.group = 16;
  k.d = fp16_to_fp32(b.d);
  k.dmin = 0;
  for (int j = 0; j < 16; ++j) {
    k.sc[j] = b.scales[j];
    k.mn[j] = 0;
  }
  // Two halves of 128 weights; in each, ql[0..63] and qh[0..31] hold four
  // groups of 32: low nibbles of ql[l], ql[l + 32], then their high nibbles,
  // with the 2-bit high parts in successive bit pairs of qh[l].
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* q = k.q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

}  // namespace hearth::quant::decode
