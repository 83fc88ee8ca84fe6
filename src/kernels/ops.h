// Row-level CPU ops behind the CPU backend: norms, RoPE, softmax, activations,
// and the vector primitives attention is made of. Each works on one row (or a
// flat array) and is single-threaded; cpu_backend.cpp spreads rows over threads.
//
// Numerics follow llama.cpp's CPU reference where greedy tokens depend on them:
// norms and softmax sum in double, RoPE angles come from an iterated f32
// theta_scale = base^(-2/n_rot) and rotate with the x0 products fused
// (fma(x0, cos, -(x1 sin)), as ggml's native build compiles it), SiLU is
// x / (1 + exp(-x)) with ggml's polynomial exp (exp_ggml).
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace hearth::kernels::ops {

// out = x / sqrt(mean(x^2) + eps) * weight (weight may be null: no scaling). out may be x.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
// out = (x - mean) / sqrt(var + eps) * weight + bias (either may be null). out may be x.
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out);
// exp(x) as llama.cpp's AVX-512 build computes it for SiLU (ggml_v_expf): 2^n
// times a degree-5 polynomial of x - n ln2, each step rounded as its fused
// multiply-adds round. Within 2 ulp of exp; not the same bits as std::exp.
float exp_ggml(float x);
// x / (1 + exp_ggml(-x)): SiLU rounded as llama.cpp's.
float silu(float x);
// x = exp(x - max) / sum, in place.
void softmax(float* x, int64_t n);
// out = silu(gate) * up (silu above; bit-identical at every level); out may alias either.
void swiglu(const float* gate, const float* up, float* out, int64_t n);
// x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu(float* x, int64_t n);
// out = a + b; out may alias either.
void add(const float* a, const float* b, float* out, int64_t n);

// cos_sin[2i], cos_sin[2i+1] = cos, sin of pair i's angle at position `pos`, i < n_rot/2.
void rope_angles(int64_t pos, const backend::RopeParams& p, float* cos_sin);
// Rotates the first n_rot values of one head (the rest pass through) by the angles:
// x0' = fma(x0, cos, -(x1 sin)), x1' = fma(x0, sin, x1 cos), bit for bit on every level.
void rope_head(float* x, const float* cos_sin, const backend::RopeParams& p);

// Vector primitives (AVX2/F16C when the CPU has them, else scalar).
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);  // y += a x
void scale(float* x, float a, int64_t n);                 // x *= a
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
// x = f16(x): rounds each value to the nearest f16 (ties to even).
void round_to_f16(float* x, int64_t n);

}  // namespace hearth::kernels::ops
