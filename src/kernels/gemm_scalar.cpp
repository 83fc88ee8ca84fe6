// Scalar reference kernels: obviously right, one dot product at a time, with
// the same per-block integer sums as llama.cpp's reference dot products, so
// every SIMD variant is tested against them (matmul_test.cpp).
#include <cmath>

#include "kernels/gemm.h"
#include "quant/decode.h"

namespace hearth::kernels::detail {
namespace {

namespace q = hearth::quant;
namespace decode = hearth::quant::decode;
using gguf::TensorType;

// 32-weight blocks times Q8_0: sum of d_w * d_a * sum(q_w * q_a).
template <typename Block, float (*Decode)(const Block&, int8_t*)>
float dot_x_q8_0(int64_t n, const void* w, const void* a) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const q::BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    int8_t qw[32];
    const float d = Decode(wb[b], qw);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += qw[j] * ab[b].qs[j];
    sum += d * q::fp16_to_fp32(ab[b].d) * static_cast<float>(sumi);
  }
  return sum;
}

float decode_q8_0(const q::BlockQ8_0& b, int8_t* qw) {
  for (int j = 0; j < 32; ++j) qw[j] = b.qs[j];
  return q::fp16_to_fp32(b.d);
}

// Q4_1/Q5_1 times Q8_1: d_w * d_a * sum(q_w * q_a) + m_w * s_a, where s_a is
// d_a * sum(q_a) (stored by the activation quantizer).
template <typename Block, void (*Decode)(const Block&, int8_t*, float&, float&)>
float dot_x_q8_1(int64_t n, const void* w, const void* a) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const q::BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / q::kQK; ++b) {
    int8_t qw[32];
    float d, m;
    Decode(wb[b], qw, d, m);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += qw[j] * ab[b].qs[j];
    sum += d * q::fp16_to_fp32(ab[b].d) * static_cast<float>(sumi) + m * q::fp16_to_fp32(ab[b].s);
  }
  return sum;
}

// K types times Q8_K: d_a * (d * sum_g sc_g * sum(q_w * q_a) - dmin * sum_g mn_g * sum_g(q_a)).
template <typename Block, void (*Decode)(const Block&, decode::KBlock&)>
float dot_x_q8_k(int64_t n, const void* w, const void* a) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const q::BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / q::kQK_K; ++b) {
    decode::KBlock k;
    Decode(wb[b], k);
    int scaled = 0, mins = 0;
    for (int g = 0; g < 256 / k.group; ++g) {
      int sumi = 0;
      for (int j = g * k.group; j < (g + 1) * k.group; ++j) sumi += k.q[j] * ab[b].qs[j];
      scaled += k.sc[g] * sumi;
      int asum = 0;  // sum of the activations of the group, from the 16-sums
      for (int s = g * k.group / 16; s < (g + 1) * k.group / 16; ++s) asum += ab[b].bsums[s];
      mins += k.mn[g] * asum;
    }
    sum += ab[b].d * (k.d * static_cast<float>(scaled) - k.dmin * static_cast<float>(mins));
  }
  return sum;
}

// Float weights: products summed in f32 (as llama.cpp does per lane).
template <float (*W)(const void*, int64_t), float (*A)(const void*, int64_t)>
float dot_float(int64_t n, const void* w, const void* a) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += W(w, i) * A(a, i);
  return sum;
}

float load_f32(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
float load_f16(const void* p, int64_t i) {
  return q::fp16_to_fp32(static_cast<const uint16_t*>(p)[i]);
}
float load_bf16(const void* p, int64_t i) {
  return q::bf16_to_fp32(static_cast<const uint16_t*>(p)[i]);
}

}  // namespace

GemmKernel gemm_kernel_scalar(TensorType weight) {
  switch (weight) {
    case TensorType::F32:
      return gemm_by_rows<dot_float<load_f32, load_f32>>;
    case TensorType::F16:
      return gemm_by_rows<dot_float<load_f16, load_f16>>;
    case TensorType::BF16:
      return gemm_by_rows<dot_float<load_bf16, load_bf16>>;
    case TensorType::Q4_0:
      return gemm_by_rows<dot_x_q8_0<q::BlockQ4_0, decode::q4_0>>;
    case TensorType::Q5_0:
      return gemm_by_rows<dot_x_q8_0<q::BlockQ5_0, decode::q5_0>>;
    case TensorType::Q8_0:
      return gemm_by_rows<dot_x_q8_0<q::BlockQ8_0, decode_q8_0>>;
    case TensorType::Q4_1:
      return gemm_by_rows<dot_x_q8_1<q::BlockQ4_1, decode::q4_1>>;
    case TensorType::Q5_1:
      return gemm_by_rows<dot_x_q8_1<q::BlockQ5_1, decode::q5_1>>;
    case TensorType::Q4_K:
      return gemm_by_rows<dot_x_q8_k<q::BlockQ4_K, decode::q4_k>>;
    case TensorType::Q5_K:
      return gemm_by_rows<dot_x_q8_k<q::BlockQ5_K, decode::q5_k>>;
    case TensorType::Q6_K:
      return gemm_by_rows<dot_x_q8_k<q::BlockQ6_K, decode::q6_k>>;
    default:
      return nullptr;
  }
}

}  // namespace hearth::kernels::detail
