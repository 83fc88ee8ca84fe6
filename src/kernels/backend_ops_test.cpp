// Every op of every compiled kernel variant against a double-precision reference,
// in the manner of llama.cpp's test-backend-ops: random inputs and adversarial ones
// (weights of the largest magnitude against activations of +-127 everywhere, which
// would overflow 16-bit pair sums; extreme scales; sizes at every tail and tile
// boundary; every KV length up to 300 for attention).
//
// The reference is the kernel's contract, not an idealised product: weights as
// their blocks define them (exact in double), activations as the kernel quantizes
// them (Q8_0/Q8_1/Q8_K blocks, f16, bf16), and for Q4_1/Q5_1 the Q8_1 block sum
// as stored in f16. What is left is f32 rounding, bounded by the number of
// sequential additions times the sum of the terms' magnitudes: a wrong block, a
// missed tail, a saturated intermediate is orders of magnitude above it. Where
// hearth must round as ggml does (RoPE, the Q8_0 dot product's 8 lanes at the AVX2
// level), or in an order of its own (the AVX-512 Q8_0 tiles), the test
// asks for the same bits.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "kernels/act_quant.h"
#include "kernels/cpu_backend.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/types_test.h"
#include "quant/blocks.h"
#include "quant/decode.h"
#include "quant/fp16.h"
#include "quant/rows.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;
namespace q = hearth::quant;
namespace decode = hearth::quant::decode;

constexpr double kU = 1.0 / (1 << 24);  // f32 unit roundoff

using test::kTypes;

std::vector<SimdLevel> levels() {
  std::vector<SimdLevel> v;
  for (SimdLevel l : kSimdLevels)
    if (cpu_supports(l)) v.push_back(l);
  return v;
}

int64_t block_of(TensorType t) { return gguf::type_traits(t)->block_size; }

// ---- weights: each value as two exact parts, w = lin - off (lin = d sc q, off = dmin m)

struct DecodedRow {
  std::vector<double> lin, off;  // [cols]
};

DecodedRow decode_row(TensorType type, const uint8_t* row, int64_t cols) {
  DecodedRow r{std::vector<double>(cols, 0.0), std::vector<double>(cols, 0.0)};
  auto k_blocks = [&](auto* blocks, auto decoder) {
    for (int64_t b = 0; b < cols / 256; ++b) {
      decode::KBlock k;
      decoder(blocks[b], k);
      for (int i = 0; i < 256; ++i) {
        const int g = i / k.group;
        r.lin[b * 256 + i] = double(k.d) * k.sc[g] * k.q[i];
        r.off[b * 256 + i] = double(k.dmin) * k.mn[g];
      }
    }
  };
  switch (type) {
    case TensorType::F32:
      for (int64_t c = 0; c < cols; ++c) r.lin[c] = reinterpret_cast<const float*>(row)[c];
      break;
    case TensorType::F16:
      for (int64_t c = 0; c < cols; ++c)
        r.lin[c] = q::fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[c]);
      break;
    case TensorType::BF16:
      for (int64_t c = 0; c < cols; ++c)
        r.lin[c] = q::bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[c]);
      break;
    case TensorType::Q8_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        const auto& blk = reinterpret_cast<const q::BlockQ8_0*>(row)[b];
        for (int j = 0; j < 32; ++j) r.lin[b * 32 + j] = double(q::fp16_to_fp32(blk.d)) * blk.qs[j];
      }
      break;
    case TensorType::Q4_0:
    case TensorType::Q5_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        int8_t qs[32];
        const float d = type == TensorType::Q4_0
                            ? decode::q4_0(reinterpret_cast<const q::BlockQ4_0*>(row)[b], qs)
                            : decode::q5_0(reinterpret_cast<const q::BlockQ5_0*>(row)[b], qs);
        for (int j = 0; j < 32; ++j) r.lin[b * 32 + j] = double(d) * qs[j];
      }
      break;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      for (int64_t b = 0; b < cols / 32; ++b) {
        int8_t qs[32];
        float d, m;
        if (type == TensorType::Q4_1)
          decode::q4_1(reinterpret_cast<const q::BlockQ4_1*>(row)[b], qs, d, m);
        else
          decode::q5_1(reinterpret_cast<const q::BlockQ5_1*>(row)[b], qs, d, m);
        for (int j = 0; j < 32; ++j) r.lin[b * 32 + j] = double(d) * qs[j], r.off[b * 32 + j] = -m;
      }
      break;
    case TensorType::Q4_K:
      k_blocks(reinterpret_cast<const q::BlockQ4_K*>(row), decode::q4_k);
      break;
    case TensorType::Q5_K:
      k_blocks(reinterpret_cast<const q::BlockQ5_K*>(row), decode::q5_k);
      break;
    case TensorType::Q6_K:
      k_blocks(reinterpret_cast<const q::BlockQ6_K*>(row), decode::q6_k);
      break;
    default:
      ADD_FAILURE() << "no decoder for " << gguf::type_name(type);
  }
  return r;
}

// ---- activations as the kernel's contract quantizes them

struct Acts {
  std::vector<double> a;     // [cols] the value each activation stands for
  std::vector<double> bsum;  // Q8_1: per 32-block, the stored s = f16(d * sum q)
};

Acts contract_activations(TensorType weight, const float* x, int64_t cols) {
  const TensorType act = activation_type(weight);
  std::vector<uint8_t> buf(activation_row_bytes(act, cols));
  quantize_activations(act, x, buf.data(), cols, SimdLevel::kScalar);
  Acts r{std::vector<double>(cols), {}};
  switch (act) {
    case TensorType::Q8_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        const auto& blk = reinterpret_cast<const q::BlockQ8_0*>(buf.data())[b];
        for (int j = 0; j < 32; ++j) r.a[b * 32 + j] = double(q::fp16_to_fp32(blk.d)) * blk.qs[j];
      }
      break;
    case TensorType::Q8_1:
      for (int64_t b = 0; b < cols / 32; ++b) {
        const auto& blk = reinterpret_cast<const q::BlockQ8_1*>(buf.data())[b];
        for (int j = 0; j < 32; ++j) r.a[b * 32 + j] = double(q::fp16_to_fp32(blk.d)) * blk.qs[j];
        r.bsum.push_back(q::fp16_to_fp32(blk.s));
      }
      break;
    case TensorType::Q8_K:
      for (int64_t b = 0; b < cols / 256; ++b) {
        const auto& blk = reinterpret_cast<const q::BlockQ8_K*>(buf.data())[b];
        for (int j = 0; j < 256; ++j) r.a[b * 256 + j] = double(blk.d) * blk.qs[j];
      }
      break;
    case TensorType::F16:
      for (int64_t c = 0; c < cols; ++c) r.a[c] = q::fp16_to_fp32(q::fp32_to_fp16(x[c]));
      break;
    case TensorType::BF16:
      for (int64_t c = 0; c < cols; ++c) r.a[c] = q::bf16_to_fp32(q::fp32_to_bf16(x[c]));
      break;
    default:
      for (int64_t c = 0; c < cols; ++c) r.a[c] = x[c];
  }
  return r;
}

// The exact dot product of a weight row and a token, and the sum of its terms' magnitudes.
void reference_dot(const DecodedRow& w, const Acts& a, double& value, double& magnitude) {
  value = magnitude = 0;
  const int64_t cols = static_cast<int64_t>(w.lin.size());
  for (int64_t c = 0; c < cols; ++c) {
    value += w.lin[c] * a.a[c];
    magnitude += std::fabs(w.lin[c] * a.a[c]);
  }
  if (!a.bsum.empty()) {  // Q4_1/Q5_1 x Q8_1: the offset meets the block's stored sum
    for (size_t b = 0; b < a.bsum.size(); ++b) {
      value -= w.off[b * 32] * a.bsum[b];
      magnitude += std::fabs(w.off[b * 32] * a.bsum[b]);
    }
  } else {
    for (int64_t c = 0; c < cols; ++c) {
      value -= w.off[c] * a.a[c];
      magnitude += std::fabs(w.off[c] * a.a[c]);
    }
  }
}

// ---- inputs

uint16_t scale16(std::mt19937& rng, float lo, float hi, bool negative_too) {
  std::uniform_real_distribution<float> mag(lo, hi);
  float v = mag(rng);
  if (negative_too && (rng() & 1)) v = -v;
  return q::fp32_to_fp16(v);
}

// The *Quantized patterns differ only for Q8_0: its quants in -127..127, as
// llama.cpp's quantizer writes them, where the others hold -128 too (AVX2
// multiplies the two kinds differently: PackedLayout::q8_holds_min).
enum class Pattern { Random, Extreme, RandomQuantized, ExtremeQuantized };

// Random bytes with sane fp16 scales, or (Extreme) every quant at the largest
// magnitude the format holds and the largest 6-bit / int8 sub-block scales.
std::vector<uint8_t> make_weights(TensorType type, int64_t rows, int64_t cols, Pattern p,
                                  uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(gguf::row_bytes(type, cols) * rows);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const int64_t n = rows * cols;
  std::normal_distribution<float> normal(0.f, 0.1f);
  const bool ext = p == Pattern::Extreme || p == Pattern::ExtremeQuantized;
  const int8_t q8_min = p == Pattern::Extreme || p == Pattern::Random ? -128 : -127;
  auto extreme_byte = [&] { return static_cast<uint8_t>(rng() & 1 ? 0xFF : 0x00); };
  auto each = [&](auto* blocks, int64_t block, auto fn) {
    for (int64_t b = 0; b < n / block; ++b) fn(blocks[b]);
  };
  switch (type) {
    case TensorType::F32:
      for (int64_t i = 0; i < n; ++i)
        reinterpret_cast<float*>(data.data())[i] = ext ? (rng() & 1 ? 3e4f : -3e4f) : normal(rng);
      break;
    case TensorType::F16:
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const float v = ext ? (rng() & 1 ? 6e4f : -6e4f) : normal(rng);
        reinterpret_cast<uint16_t*>(data.data())[i] =
            type == TensorType::F16 ? q::fp32_to_fp16(v) : q::fp32_to_bf16(v);
      }
      break;
    case TensorType::Q8_0:
      each(reinterpret_cast<q::BlockQ8_0*>(data.data()), 32, [&](q::BlockQ8_0& b) {
        b.d = scale16(rng, 1e-3f, 2e-2f, true);
        for (auto& v : b.qs)
          if (ext)
            v = rng() & 1 ? int8_t{127} : q8_min;
          else if (v < q8_min)
            v = q8_min;
      });
      break;
    case TensorType::Q4_0:
      each(reinterpret_cast<q::BlockQ4_0*>(data.data()), 32, [&](q::BlockQ4_0& b) {
        b.d = scale16(rng, 1e-3f, 2e-2f, true);
        if (ext)
          for (auto& v : b.qs) v = extreme_byte();
      });
      break;
    case TensorType::Q5_0:
      each(reinterpret_cast<q::BlockQ5_0*>(data.data()), 32, [&](q::BlockQ5_0& b) {
        b.d = scale16(rng, 1e-3f, 2e-2f, true);
        if (ext) {
          for (auto& v : b.qs) v = extreme_byte();
          for (auto& v : b.qh) v = extreme_byte();
        }
      });
      break;
    case TensorType::Q4_1:
      each(reinterpret_cast<q::BlockQ4_1*>(data.data()), 32, [&](q::BlockQ4_1& b) {
        b.d = scale16(rng, 1e-3f, 2e-2f, false), b.m = scale16(rng, 1e-3f, 2e-2f, true);
        if (ext)
          for (auto& v : b.qs) v = 0xFF;
      });
      break;
    case TensorType::Q5_1:
      each(reinterpret_cast<q::BlockQ5_1*>(data.data()), 32, [&](q::BlockQ5_1& b) {
        b.d = scale16(rng, 1e-3f, 2e-2f, false), b.m = scale16(rng, 1e-3f, 2e-2f, true);
        if (ext) {
          for (auto& v : b.qs) v = 0xFF;
          for (auto& v : b.qh) v = 0xFF;
        }
      });
      break;
    case TensorType::Q4_K:
      each(reinterpret_cast<q::BlockQ4_K*>(data.data()), 256, [&](q::BlockQ4_K& b) {
        b.d = scale16(rng, 1e-4f, 2e-3f, false), b.dmin = scale16(rng, 1e-4f, 2e-3f, false);
        if (ext) {
          for (auto& v : b.qs) v = 0xFF;
          for (auto& v : b.scales) v = 0xFF;  // scales and mins of 63
        }
      });
      break;
    case TensorType::Q5_K:
      each(reinterpret_cast<q::BlockQ5_K*>(data.data()), 256, [&](q::BlockQ5_K& b) {
        b.d = scale16(rng, 1e-4f, 2e-3f, false), b.dmin = scale16(rng, 1e-4f, 2e-3f, false);
        if (ext) {
          for (auto& v : b.qs) v = 0xFF;
          for (auto& v : b.qh) v = 0xFF;
          for (auto& v : b.scales) v = 0xFF;
        }
      });
      break;
    case TensorType::Q6_K:
      each(reinterpret_cast<q::BlockQ6_K*>(data.data()), 256, [&](q::BlockQ6_K& b) {
        b.d = scale16(rng, 1e-4f, 2e-3f, true);
        if (ext) {
          for (auto& v : b.ql) v = 0xFF;
          for (auto& v : b.qh) v = 0xFF;
          for (auto& v : b.scales) v = static_cast<int8_t>(rng() & 1 ? 127 : -128);
        }
      });
      break;
    default:
      ADD_FAILURE() << "no generator for " << gguf::type_name(type);
  }
  return data;
}

// N(0, 1) with outliers, times `scale`; or (signs_of) +-scale with the sign of each
// weight of row 0, so that every product adds up: all q8 activations are +-127.
std::vector<float> make_activations(int64_t n_tokens, int64_t cols, float scale, uint32_t seed,
                                    const DecodedRow* signs_of = nullptr) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(n_tokens * cols);
  for (int64_t i = 0; i < n_tokens * cols; ++i) {
    if (signs_of) {
      const double w = signs_of->lin[i % cols] - signs_of->off[i % cols];
      x[i] = w < 0 ? -scale : scale;
    } else {
      x[i] = normal(rng) * scale * (i % 97 == 0 ? 8.f : 1.f);
    }
  }
  return x;
}

// One matmul through WeightMatrix at `level` against the contract.
void check_matmul(TensorType type, SimdLevel level, int64_t rows, int64_t cols, int64_t nt,
                  const std::vector<uint8_t>& w, const std::vector<float>& x, ThreadPool& pool,
                  const std::string& what) {
  WeightMatrix m(type, w.data(), rows, cols, level);
  std::vector<float> y(rows * nt, NAN);
  m.multiply(x.data(), nt, y.data(), pool);
  const size_t row_bytes = gguf::row_bytes(type, cols);
  const bool is_float = block_of(type) == 1;
  const double terms = (is_float ? double(cols) : double(cols / block_of(type))) + 16;
  std::vector<Acts> acts;
  for (int64_t t = 0; t < nt; ++t) acts.push_back(contract_activations(type, &x[t * cols], cols));
  for (int64_t r = 0; r < rows; ++r) {
    const DecodedRow wr = decode_row(type, w.data() + r * row_bytes, cols);
    for (int64_t t = 0; t < nt; ++t) {
      double want, mag;
      reference_dot(wr, acts[t], want, mag);
      const double tol = 4 * terms * kU * mag + 1e-30;
      const float got = y[t * rows + r];
      ASSERT_TRUE(std::isfinite(got) && std::fabs(got - want) <= tol)
          << gguf::type_name(type) << " at " << simd_level_name(m.level()) << ", " << what
          << ": rows " << rows << " cols " << cols << " tokens " << nt << ", y[" << t << "][" << r
          << "] = " << got << ", want " << want << " +- " << tol;
    }
  }
}

// Sizes at every boundary: rows around the 16-row groups and the 2- and 4-group
// tiles, tokens around the 4-token passes, the 6-token tiles and the 48/64-token
// blocks, columns of 1, 2, 3, 8 and 9 blocks (1..33 and 331 values for float types).
TEST(BackendOps, MatmulEveryTypeEveryLevelAtEveryBoundary) {
  ThreadPool pool(2);
  const int64_t kRows[] = {1, 15, 16, 17, 32, 33, 64, 65, 80};
  const int64_t kTokens[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 48, 49, 65};
  for (TensorType type : kTypes) {
    const int64_t blk = block_of(type);
    const int64_t base_cols = blk == 1 ? 67 : 3 * blk;
    for (SimdLevel level : levels()) {
      for (int64_t rows : kRows) {
        const auto w = make_weights(type, rows, base_cols, Pattern::Random, 11 + uint32_t(rows));
        for (int64_t nt : kTokens) {
          const auto x = make_activations(nt, base_cols, 1.f, 5 + uint32_t(nt));
          check_matmul(type, level, rows, base_cols, nt, w, x, pool, "random");
        }
      }
      const std::vector<int64_t> cols_list =
          blk == 1 ? std::vector<int64_t>{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 331}
                   : std::vector<int64_t>{blk, 2 * blk, 3 * blk, 8 * blk, 9 * blk};
      for (int64_t cols : cols_list)
        for (int64_t nt : {1, 6, 7}) {
          const auto w = make_weights(type, 17, cols, Pattern::Random, 3 + uint32_t(cols));
          const auto x = make_activations(nt, cols, 1.f, 9 + uint32_t(cols));
          check_matmul(type, level, 17, cols, nt, w, x, pool, "random");
        }
    }
  }
}

// Weights of the largest magnitude against +-127 activations of the same signs
// (every int8 product adds up: pair sums beyond int16), and activations from tiny
// (f16 scales near underflow) to large.
TEST(BackendOps, MatmulAdversarialInputs) {
  ThreadPool pool(2);
  for (TensorType type : kTypes) {
    const int64_t cols = block_of(type) == 1 ? 64 : 2 * std::max<int64_t>(block_of(type), 32);
    for (SimdLevel level : levels())
      for (int64_t rows : {1, 16, 33})
        for (int64_t nt : {1, 5, 7})
          for (bool quantized : {false, true}) {
            if (quantized && type != TensorType::Q8_0) continue;
            const auto w = make_weights(type, rows, cols,
                                        quantized ? Pattern::ExtremeQuantized : Pattern::Extreme,
                                        77 + uint32_t(rows));
            const DecodedRow row0 = decode_row(type, w.data(), cols);
            const auto aligned = make_activations(nt, cols, 1.f, 1, &row0);
            check_matmul(
                type, level, rows, cols, nt, w, aligned, pool,
                quantized ? "+-127 aligned with row 0 (no -128)" : "+-127 aligned with row 0");
            // The largest activations each format holds: f16/bf16 values to 65504;
            // Q8_1's block sum s = d * sum(q) is an f16 too.
            const bool half = type == TensorType::F16 || type == TensorType::BF16;
            const bool q8_1 = activation_type(type) == TensorType::Q8_1;
            for (float scale : {1e-6f, 1e-3f, half ? 1e3f : q8_1 ? 10.f : 1e5f}) {
              const auto x = make_activations(nt, cols, scale, 2 + uint32_t(nt));
              check_matmul(type, level, rows, cols, nt, w, x, pool,
                           std::string(quantized ? "(no -128) " : "") +
                               "extreme weights, activations x" + std::to_string(scale));
              const auto wr = make_weights(
                  type, rows, cols, quantized ? Pattern::RandomQuantized : Pattern::Random, 5);
              check_matmul(type, level, rows, cols, nt, wr, x, pool,
                           "activations x" + std::to_string(scale));
            }
          }
  }
}

// The Q8_0 x Q8_0 product's rounding, bit for bit, at each SIMD level. Both
// the AVX2 and the AVX-512 tiles scale each block's exact integer sum once:
// acc = fma(sum, d_w d_x, acc), block by block (gemm_packed_avx512.cpp says
// why; ggml instead keeps 8 f32 lanes a row, each scaled every block). A
// token's output is fixed bits, whatever batch it is in.
TEST(BackendOps, Q8_0MatmulRoundsInItsOrder) {
  ThreadPool pool(2);
  const int64_t cols = 256;
  for (SimdLevel level : levels()) {
    if (level == SimdLevel::kScalar) continue;  // the reference sums in its own order
    for (int64_t rows : {1, 16, 17, 64, 80})
      for (int64_t nt : {1, 4, 6, 7, 49}) {
        const auto w = make_weights(TensorType::Q8_0, rows, cols, Pattern::Random, 31);
        const auto x = make_activations(nt, cols, 1.f, 32 + uint32_t(nt));
        WeightMatrix m(TensorType::Q8_0, w.data(), rows, cols, level);
        std::vector<float> y(rows * nt);
        m.multiply(x.data(), nt, y.data(), pool);
        std::vector<q::BlockQ8_0> a(cols / 32);
        for (int64_t t = 0; t < nt; ++t) {
          quantize_activations(TensorType::Q8_0, &x[t * cols], a.data(), cols, SimdLevel::kScalar);
          for (int64_t r = 0; r < rows; ++r) {
            const auto* wb = reinterpret_cast<const q::BlockQ8_0*>(w.data()) + r * (cols / 32);
            float want = 0;
            for (int64_t b = 0; b < cols / 32; ++b) {
              const float d = q::fp16_to_fp32(wb[b].d) * q::fp16_to_fp32(a[b].d);
              int block = 0;
              for (int j = 0; j < 32; ++j) block += wb[b].qs[j] * a[b].qs[j];
              want = std::fma(static_cast<float>(block), d, want);
            }
            ASSERT_EQ(y[t * rows + r], want) << simd_level_name(m.level()) << " rows " << rows
                                             << " tokens " << nt << " y[" << t << "][" << r << "]";
          }
        }
      }
  }
}

// The AVX-VNNI level is the AVX2 tiles with vpdpbusd and vpdpwssd: the same
// integer sums (exact either way), scaled in the same order, so the same bits
// for every packed type, whatever the batch. (On a CPU without AVX-VNNI the
// level falls to AVX2 and this compares AVX2 with itself; without AVX2 both
// fall to the scalar kernels.)
TEST(BackendOps, AvxVnniTilesGiveTheAvx2TilesBits) {
  const SimdLevel want_ymm = cpu_supports(SimdLevel::kAvx2) ? SimdLevel::kAvx2 : SimdLevel::kScalar;
  const SimdLevel want_vnni = cpu_supports(SimdLevel::kAvxVnni) ? SimdLevel::kAvxVnni : want_ymm;
  ThreadPool pool(2);
  for (TensorType type :
       {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    const int64_t cols = 512;
    for (int64_t rows : {17, 64})
      for (int64_t nt : {1, 5, 49})
        for (Pattern p : {Pattern::Random, Pattern::RandomQuantized}) {
          if (p == Pattern::RandomQuantized && type != TensorType::Q8_0) continue;
          const auto w = make_weights(type, rows, cols, p, 7 + uint32_t(rows));
          const auto x = make_activations(nt, cols, 1.f, 40 + uint32_t(nt));
          WeightMatrix ymm(type, w.data(), rows, cols, SimdLevel::kAvx2);
          WeightMatrix vnni(type, w.data(), rows, cols, SimdLevel::kAvxVnni);
          ASSERT_EQ(ymm.level(), want_ymm);
          ASSERT_EQ(vnni.level(), want_vnni);
          std::vector<float> a(rows * nt), b(rows * nt);
          ymm.multiply(x.data(), nt, a.data(), pool);
          vnni.multiply(x.data(), nt, b.data(), pool);
          for (int64_t i = 0; i < rows * nt; ++i)
            ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i]))
                << gguf::type_name(type) << " rows " << rows << " tokens " << nt << " at " << i;
        }
  }
}

// Activation quantizers: every level bit-exact with the scalar one, and the scalar
// one within its contract (|q| <= 127, |x / d - q| <= 1/2 up to the f16 scale's rounding).
TEST(BackendOps, ActivationQuantizersAgreeAndKeepTheirContract) {
  for (TensorType act : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
    const int64_t cols = 768;
    for (float scale : {1e-6f, 1.f, 1e4f}) {
      auto x = make_activations(1, cols, scale, 41);
      x[3] = 0;  // a zero, and a block of zeros
      for (int j = 64; j < 96; ++j) x[j] = 0;
      // Two values of the largest magnitude, opposite signs (Q8_K scales by the
      // first), and a super-block of zeros.
      float big = 0;
      for (int j = 256; j < 512; ++j) big = std::max(big, std::fabs(x[j]));
      x[260] = -2 * big, x[270] = 2 * big;
      for (int j = 512; j < 768; ++j) x[j] = 0;
      std::vector<uint8_t> ref(activation_row_bytes(act, cols)), got(ref.size());
      quantize_activations(act, x.data(), ref.data(), cols, SimdLevel::kScalar);
      for (SimdLevel level : levels()) {
        quantize_activations(act, x.data(), got.data(), cols, level);
        EXPECT_EQ(std::memcmp(ref.data(), got.data(), ref.size()), 0)
            << gguf::type_name(act) << " at " << simd_level_name(level) << " x" << scale;
      }
      const int64_t blk = act == TensorType::Q8_K ? 256 : 32;
      for (int64_t b = 0; b < cols / blk; ++b) {
        float amax = 0;
        for (int64_t j = 0; j < blk; ++j) amax = std::max(amax, std::fabs(x[b * blk + j]));
        const int8_t* qs;
        if (act == TensorType::Q8_0)
          qs = reinterpret_cast<const q::BlockQ8_0*>(ref.data())[b].qs;
        else if (act == TensorType::Q8_1)
          qs = reinterpret_cast<const q::BlockQ8_1*>(ref.data())[b].qs;
        else
          qs = reinterpret_cast<const q::BlockQ8_K*>(ref.data())[b].qs;
        for (int64_t j = 0; j < blk; ++j) {
          const double exact = amax == 0 ? 0 : double(x[b * blk + j]) * 127.0 / amax;
          EXPECT_LE(std::abs(int(qs[j])), 127);
          EXPECT_LE(std::fabs(std::fabs(exact) - std::abs(int(qs[j]))), 0.5 + 1e-4)
              << gguf::type_name(act) << " block " << b << " value " << j;
        }
      }
    }
  }
}

// ---- row ops

// RoPE: the angles from ggml's iterated f32 theta_scale, the rotation as ggml's
// native build rounds it (fma(x0, cos, -(x1 sin)), fma(x0, sin, x1 cos)): bits.
TEST(BackendOps, RopeRoundsAsGgml) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (backend::RopeMode mode : {backend::RopeMode::Normal, backend::RopeMode::Neox})
    for (int64_t hd : {2, 16, 32, 34, 64, 80, 128})
      for (int64_t pos : {0, 1, 7, 100, 511, 4000}) {
        backend::RopeParams p{mode, hd, 10000.f, 1.f};
        std::vector<float> x(hd), y(hd), cs(hd);
        for (auto& v : x) v = normal(rng);
        ops::rope_angles(pos, p, cs.data());
        y = x;
        ops::rope_head(y.data(), cs.data(), p);
        const float ts = std::pow(10000.f, -2.0f / static_cast<float>(hd));
        float theta = static_cast<float>(pos);
        for (int64_t i = 0; i < hd / 2; ++i, theta *= ts) {
          ASSERT_EQ(cs[2 * i], std::cos(theta));
          ASSERT_EQ(cs[2 * i + 1], std::sin(theta));
          const int64_t i0 = mode == backend::RopeMode::Normal ? 2 * i : i;
          const int64_t i1 = mode == backend::RopeMode::Normal ? 2 * i + 1 : i + hd / 2;
          const float c = cs[2 * i], s = cs[2 * i + 1];
          ASSERT_EQ(y[i0], std::fma(x[i0], c, -(x[i1] * s))) << "head " << hd << " pos " << pos;
          ASSERT_EQ(y[i1], std::fma(x[i0], s, x[i1] * c)) << "head " << hd << " pos " << pos;
        }
      }
}

// SwiGLU as llama.cpp computes it with AVX-512 (ggml_v_silu: a polynomial exp, not
// std::exp): these bits are ggml's own output for silu(x) * 1 (ggml, August 2026,
// GGML_NATIVE on AVX-512). Every length and level gives the scalar formula's bits.
TEST(BackendOps, SwigluRoundsAsGgml) {
  const std::pair<float, uint32_t> kGgml[] = {
      {-0x1.9ep+6, 0x80000000},     {-0x1.5f999ap+6, 0x834824e2}, {-0x1.4p+4, 0xb3310d40},
      {-0x1.d9999ap+1, 0xbdb6d32d}, {-0x1p-1, 0xbe414d03},        {-0x1.0624dep-10, 0xba0301a8},
      {0x0p+0, 0x00000000},         {0x1.0624dep-10, 0x3a032336}, {0x1.99999ap-4, 0x3d57080f},
      {0x1.666666p-1, 0x3eef7a7e},  {0x1.4cccccp+0, 0x3f82c350},  {0x1.2p+1, 0x40024509},
      {0x1.79999ap+2, 0x40bc48c2},  {0x1.1p+4, 0x41880000},       {0x1.4p+5, 0x42200000},
      {0x1.62p+6, 0x42b10000}};
  std::vector<float> g, ones(16, 1.0f), out(16);
  for (const auto& [x, bits] : kGgml) g.push_back(x);
  ops::swiglu(g.data(), ones.data(), out.data(), 16);  // 16 lanes: the vector path
  for (int i = 0; i < 16; ++i) {
    uint32_t got, one;
    const float s = ops::silu(g[i]);
    std::memcpy(&got, &out[i], 4);
    std::memcpy(&one, &s, 4);
    EXPECT_EQ(got, kGgml[i].second) << "silu(" << g[i] << ") = " << out[i];
    EXPECT_EQ(one, kGgml[i].second) << "scalar silu(" << g[i] << ")";
  }
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.f, 6.f);
  for (int64_t n = 1; n <= 67; ++n) {
    std::vector<float> a(n), b(n), y(n);
    for (int64_t i = 0; i < n; ++i) a[i] = normal(rng), b[i] = normal(rng);
    ops::swiglu(a.data(), b.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float want = ops::silu(a[i]) * b[i];
      ASSERT_EQ(std::memcmp(&y[i], &want, 4), 0) << "n " << n << " i " << i;
      // ggml's exp is within 2 ulp of exp: tolerance of the double check below.
      const double e = std::exp(double(a[i]));
      ASSERT_NEAR(ops::exp_ggml(a[i]), e, 2.5 * 2 * kU * e) << a[i];
    }
  }
}

// Norms, softmax, SwiGLU, GELU, add against double, at every length to 67 and at
// magnitudes from 1e-15 to 1e15 (squares stay inside f32).
TEST(BackendOps, RowOpsMatchDouble) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float scale : {1e-15f, 1e-3f, 1.f, 1e3f, 1e15f})
    for (int64_t n = 1; n <= 67; ++n) {
      std::vector<float> x(n), w(n), b(n), out(n);
      for (int64_t i = 0; i < n; ++i)
        x[i] = normal(rng) * scale, w[i] = normal(rng), b[i] = normal(rng);
      double ss = 0, mean = 0;
      for (float v : x) ss += double(v) * v, mean += v;
      mean /= n;
      ops::rmsnorm(x.data(), w.data(), n, 1e-5f, out.data());
      const double rs = 1 / std::sqrt(ss / n + 1e-5);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(out[i], x[i] * rs * w[i], 12 * kU * std::fabs(x[i] * rs * w[i]) + 1e-30)
            << "rmsnorm n " << n << " x" << scale;
      double var = 0;
      for (float v : x) var += (v - mean) * (v - mean);
      var /= n;
      ops::layernorm(x.data(), w.data(), b.data(), n, 1e-5f, out.data());
      const double ls = 1 / std::sqrt(var + 1e-5);
      for (int64_t i = 0; i < n; ++i) {
        const double want = (x[i] - mean) * ls * w[i] + b[i];
        // (x - mean) loses what the f32 mean loses: relative to |x| ls |w|.
        ASSERT_NEAR(
            out[i], want,
            16 * kU *
                    ((std::fabs(x[i]) + std::fabs(mean)) * ls * std::fabs(w[i]) + std::fabs(b[i])) +
                1e-30)
            << "layernorm n " << n << " x" << scale;
      }
    }
  for (int64_t n = 1; n <= 67; ++n) {
    std::vector<float> x(n), g(n), u(n), out(n);
    for (int64_t i = 0; i < n; ++i)
      x[i] = normal(rng) * 10, g[i] = normal(rng) * 4, u[i] = normal(rng);
    std::vector<float> sm = x;
    ops::softmax(sm.data(), n);
    double mx = -INFINITY, sum = 0;
    for (float v : x) mx = std::max<double>(mx, v);
    for (float v : x) sum += std::exp(double(v) - mx);
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(double(x[i]) - mx) / sum;
      // exp's argument x - max is rounded in f32: relative error |x - max| u.
      ASSERT_NEAR(sm[i], want, (8 + std::fabs(x[i] - mx)) * 2 * kU * want + 1e-38)
          << "softmax n " << n;
    }
    ops::swiglu(g.data(), u.data(), out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1 + std::exp(-double(g[i]))) * u[i];
      ASSERT_NEAR(out[i], want, 8 * kU * std::fabs(want) + 1e-38) << "swiglu n " << n;
    }
    std::vector<float> ge = g;
    ops::gelu(ge.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = g[i];
      const double want =
          0.5 * v * (1 + std::tanh(0.7978845608028654 * v * (1 + 0.044715 * v * v)));
      ASSERT_NEAR(ge[i], want, 16 * kU * std::fabs(v) + 1e-38) << "gelu n " << n;
    }
  }
}

// ---- attention through the CPU backend

// Causal GQA attention against double over K and V as the cache stores them
// (f16, or q8_0 blocks), for every KV length 1..300 one token at a time (the
// generation path) and for prompts around the 4/8-token blocks and the 64-token
// tiled path. The kernel's own roundings: Q to the cache's type for the per-row
// path (f16: 2^-11 relative; q8_0: half a step of its block), V summed in f16
// (per-row, f16 cache), scores and sums in f32. One thread and two agree bit for bit.
// After the prompt, an optional second batch of n_more tokens (a later prompt
// chunk: keys before its first token), then the single steps; nh query heads
// over 2 KV heads.
void check_attention(backend::KvType kv, int64_t hd, int64_t n_prompt, int64_t n_steps,
                     int64_t n_more = 0, int64_t nh = 4) {
  const int64_t nkv = 2, kv_dim = nkv * hd, n_ctx = n_prompt + n_more + n_steps;
  auto b1 = make_cpu_backend(1), b2 = make_cpu_backend(2);
  backend::KvShape shape{1, n_ctx, nkv, hd};
  auto c1 = b1->alloc_kv_cache(shape, kv), c2 = b2->alloc_kv_cache(shape, kv);
  std::mt19937 rng(static_cast<uint32_t>(hd * 1000 + n_prompt));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> k_all(n_ctx * kv_dim), v_all(n_ctx * kv_dim), q_all(n_ctx * nh * hd);
  for (auto& v : k_all) v = normal(rng) * 2;
  for (auto& v : v_all) v = normal(rng);
  for (auto& v : q_all) v = normal(rng) * 2;
  // The stored K and V, read back as the contract defines them.
  auto stored = [&](const float* src) {
    std::vector<double> out(kv_dim);
    if (kv == backend::KvType::F16) {
      for (int64_t i = 0; i < kv_dim; ++i) out[i] = q::fp16_to_fp32(q::fp32_to_fp16(src[i]));
    } else {
      std::vector<q::BlockQ8_0> blk(kv_dim / 32);
      std::vector<float> f(kv_dim);
      q::quantize_row(TensorType::Q8_0, src, blk.data(), kv_dim);
      q::dequantize_row(TensorType::Q8_0, blk.data(), f.data(), kv_dim);
      for (int64_t i = 0; i < kv_dim; ++i) out[i] = f[i];
    }
    return out;
  };
  std::vector<std::vector<double>> sk(n_ctx), sv(n_ctx);
  for (int64_t j = 0; j < n_ctx; ++j)
    sk[j] = stored(&k_all[j * kv_dim]), sv[j] = stored(&v_all[j * kv_dim]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const backend::AttentionParams p{nh, nkv, hd, scale};
  auto run = [&](int64_t pos0, int64_t n) {
    // The CPU backend's memory is the host's: host arrays go to its ops as they are.
    float* qh = &q_all[pos0 * nh * hd];
    const backend::DevPtr k(&k_all[pos0 * kv_dim]), v(&v_all[pos0 * kv_dim]), qp(qh);
    std::vector<float> o1(n * nh * hd), o2(n * nh * hd);
    b1->kv_store(*c1, 0, k, v, n, pos0);
    b2->kv_store(*c2, 0, k, v, n, pos0);
    b1->attention(qp, *c1, 0, n, pos0, p, backend::DevPtr(o1.data()));
    b2->attention(qp, *c2, 0, n, pos0, p, backend::DevPtr(o2.data()));
    ASSERT_EQ(std::memcmp(o1.data(), o2.data(), o1.size() * 4), 0) << "1 vs 2 threads at " << pos0;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t nk = pos0 + t + 1;
      for (int64_t h = 0; h < nh; ++h) {
        const int64_t g = h / (nh / nkv);
        const float* qv = qh + (t * nh + h) * hd;
        std::vector<double> s(nk);
        double mx = -INFINITY, qk_mag = 0, qabs = 0;
        for (int64_t d = 0; d < hd; ++d) qabs = std::max<double>(qabs, std::fabs(qv[d]));
        const auto& vs = sv;
        for (int64_t j = 0; j < nk; ++j) {
          const auto& kk = sk[j];
          double dot = 0, mag = 0;
          for (int64_t d = 0; d < hd; ++d)
            dot += qv[d] * kk[g * hd + d], mag += std::fabs(kk[g * hd + d]);
          s[j] = dot * scale;
          qk_mag = std::max(qk_mag, mag * scale);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - mx));
        // Score error from Q's rounding, then f32/f16 accumulation over nk keys.
        const double q_err = kv == backend::KvType::F16 ? qabs * 0x1p-11 : qabs / 254.0;
        const double ds = q_err * qk_mag + 64 * kU * qk_mag * qabs;
        const double acc = (kv == backend::KvType::F16 && n < 64) ? 0x1p-11 : 8 * kU;
        for (int64_t d = 0; d < hd; ++d) {
          double want = 0, vmax = 0;
          for (int64_t j = 0; j < nk; ++j)
            want += s[j] / sum * vs[j][g * hd + d],
                vmax = std::max(vmax, std::fabs(vs[j][g * hd + d]));
          const double tol = vmax * (4 * ds + acc * (4 + 2 * std::sqrt(double(nk))));
          const float got = o1[(t * nh + h) * hd + d];
          ASSERT_NEAR(got, want, tol)
              << (kv == backend::KvType::F16 ? "f16" : "q8_0") << " head dim " << hd << " keys "
              << nk << " tokens " << n << " head " << h << " dim " << d;
        }
      }
    }
  };
  if (n_prompt > 0) run(0, n_prompt);
  if (n_more > 0) run(n_prompt, n_more);
  for (int64_t i = 0; i < n_steps; ++i) run(n_prompt + n_more + i, 1);
}

TEST(BackendOps, AttentionEveryKvLengthOneTokenAtATime) {
  check_attention(backend::KvType::F16, 32, 0, 300);
  check_attention(backend::KvType::F16, 64, 0, 130);
  check_attention(backend::KvType::Q8_0, 32, 0, 300);
}

TEST(BackendOps, AttentionPromptsAroundBlocksAndTheTiledPath) {
  for (int64_t n : {1, 3, 4, 5, 8, 9, 63, 64, 65, 130})
    for (backend::KvType kv : {backend::KvType::F16, backend::KvType::Q8_0})
      check_attention(kv, 32, n, 3);
}

// The tiled path's AVX-512 tiles (where the CPU has them): head sizes of 64
// values a tile and a 16-value rest (80), groups of 1, 3 and 8 heads (32-row
// chunks split across tokens), and a second batch whose keys start after
// earlier ones.
TEST(BackendOps, AttentionTiledPathShapes) {
  check_attention(backend::KvType::F16, 64, 130, 1, 0, 16);
  check_attention(backend::KvType::F16, 80, 70, 1, 0, 6);
  check_attention(backend::KvType::F16, 128, 64, 1, 0, 2);
  check_attention(backend::KvType::F16, 64, 37, 1, 100, 6);
  check_attention(backend::KvType::F16, 16, 65, 2, 66, 6);
}

}  // namespace
}  // namespace hearth::kernels
