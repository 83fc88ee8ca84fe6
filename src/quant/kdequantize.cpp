// Dequantizers of the 256-weight super-block ("K") types: weight = scale *
// level - min per sub-block, with the float operations in ggml's order.
#include "quant/decode.h"
#include "quant/fp16.h"
#include "quant/row_impl.h"

namespace hearth::quant::detail {

void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_fp32(x[b].d);
    const float dmin = fp16_to_fp32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    int s = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = x[b].scales[s++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_fp32(x[b].d);
    const uint8_t* sc = x[b].scales;
    const uint8_t* q = x[b].qs;
    int s = 0;
    uint8_t mask = 1;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask = static_cast<uint8_t>(mask << 1)) {
        for (int part = 0; part < 2; ++part, ++s) {
          const int lo = s < 8 ? sc[s] & 0xF : sc[s - 8] >> 4;
          const int scale = (lo | (((sc[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32;
          const float dl = d * static_cast<float>(scale);
          for (int l = 0; l < 16; ++l) {
            const int i = l + 16 * part;
            const int v = ((q[i] >> shift) & 3) - ((x[b].hmask[i] & mask) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

namespace {

// A K-type super-block decoded to integers (decode.h), scaled as ggml's
// reference does: (d * sc) * q - dmin * m per sub-block.
template <typename Block, void (*Decode)(const Block&, decode::KBlock&)>
void dequantize_k(const Block* x, float* y, int64_t n) {
  decode::KBlock k;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Decode(x[b], k);
    for (int g = 0; g < kQK_K / k.group; ++g) {
      const float dl = k.d * static_cast<float>(k.sc[g]);
      const float ml = k.dmin * static_cast<float>(k.mn[g]);
      for (int l = 0; l < k.group; ++l) *y++ = dl * static_cast<float>(k.q[g * k.group + l]) - ml;
    }
  }
}

}  // namespace

void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  dequantize_k<BlockQ4_K, decode::q4_k>(x, y, n);
}

void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  dequantize_k<BlockQ5_K, decode::q5_k>(x, y, n);
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  dequantize_k<BlockQ6_K, decode::q6_k>(x, y, n);
}

void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    for (int j = 0; j < kQK_K; ++j) *y++ = x[b].d * static_cast<float>(x[b].qs[j]);
  }
}

}  // namespace hearth::quant::detail
