// Every compiled kernel variant against the scalar reference on random data,
// and the reference against float arithmetic on the dequantized weights
// (backend_ops_test.cpp holds every variant to the double-precision contract).
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/gemm.h"
#include "kernels/repack.h"
#include "kernels/types_test.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/rows.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;
namespace q = hearth::quant;

using test::kTypes;

uint16_t random_scale(std::mt19937& rng, bool allow_negative) {
  std::uniform_real_distribution<float> mag(1e-3f, 2e-2f);
  float v = mag(rng);
  if (allow_negative && (rng() & 1)) v = -v;
  return q::fp32_to_fp16(v);
}

// Random block bytes with sane fp16 scales (random bytes there would give
// infinities and NaNs, which no model holds). Q8_0's quants are any byte,
// -128 included, unless `q8_min` is false: then -127..127, as llama.cpp's
// quantizer writes them (AVX2 multiplies the two kinds differently:
// PackedLayout::q8_holds_min).
std::vector<uint8_t> random_weights(TensorType type, int64_t rows, int64_t cols, uint32_t seed,
                                    bool q8_min = true) {
  std::mt19937 rng(seed);
  const size_t row_bytes = gguf::row_bytes(type, cols);
  std::vector<uint8_t> data(row_bytes * rows);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const int64_t n = rows * cols;
  std::normal_distribution<float> normal(0.f, 0.1f);
  auto blocks = [&](auto* p, int64_t block) { return std::make_pair(p, n / block); };
  switch (type) {
    case TensorType::F32: {
      auto* f = reinterpret_cast<float*>(data.data());
      for (int64_t i = 0; i < n; ++i) f[i] = normal(rng);
      break;
    }
    case TensorType::F16:
    case TensorType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(data.data());
      for (int64_t i = 0; i < n; ++i)
        h[i] =
            type == TensorType::F16 ? q::fp32_to_fp16(normal(rng)) : q::fp32_to_bf16(normal(rng));
      break;
    }
    case TensorType::Q4_0: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ4_0*>(data.data()), 32);
      for (int64_t b = 0; b < nb; ++b) p[b].d = random_scale(rng, true);
      break;
    }
    case TensorType::Q5_0: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ5_0*>(data.data()), 32);
      for (int64_t b = 0; b < nb; ++b) p[b].d = random_scale(rng, true);
      break;
    }
    case TensorType::Q8_0: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ8_0*>(data.data()), 32);
      for (int64_t b = 0; b < nb; ++b) {
        p[b].d = random_scale(rng, true);
        if (!q8_min)
          for (int8_t& v : p[b].qs) v = v == -128 ? int8_t{-127} : v;
      }
      break;
    }
    case TensorType::Q4_1: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ4_1*>(data.data()), 32);
      for (int64_t b = 0; b < nb; ++b)
        p[b].d = random_scale(rng, false), p[b].m = random_scale(rng, true);
      break;
    }
    case TensorType::Q5_1: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ5_1*>(data.data()), 32);
      for (int64_t b = 0; b < nb; ++b)
        p[b].d = random_scale(rng, false), p[b].m = random_scale(rng, true);
      break;
    }
    case TensorType::Q4_K: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ4_K*>(data.data()), 256);
      for (int64_t b = 0; b < nb; ++b)
        p[b].d = random_scale(rng, false), p[b].dmin = random_scale(rng, false);
      break;
    }
    case TensorType::Q5_K: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ5_K*>(data.data()), 256);
      for (int64_t b = 0; b < nb; ++b)
        p[b].d = random_scale(rng, false), p[b].dmin = random_scale(rng, false);
      break;
    }
    case TensorType::Q6_K: {
      auto [p, nb] = blocks(reinterpret_cast<q::BlockQ6_K*>(data.data()), 256);
      for (int64_t b = 0; b < nb; ++b) p[b].d = random_scale(rng, true);
      break;
    }
    default:
      ADD_FAILURE() << "no generator for " << gguf::type_name(type);
  }
  return data;
}

std::vector<float> random_activations(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  // A few outliers, as real activations have.
  for (int64_t i = 0; i < n; i += 97) x[i] *= 8;
  return x;
}

std::vector<SimdLevel> supported_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel l : kSimdLevels)
    if (cpu_supports(l)) levels.push_back(l);
  return levels;
}

int64_t test_cols(TensorType type) {
  const uint32_t block = gguf::type_traits(type)->block_size;
  return block == 256 ? 768 : block == 32 ? 320 : 331;  // 331: float kernels' tails
}

// The variant at each level (through WeightMatrix, so repacked layouts and the
// driver's tiling are covered) against the scalar reference kernel applied to
// scalar-quantized activations. Integer block sums are exact in every variant;
// only the order of f32 additions of per-block terms differs, so the error is
// bounded by (terms + 16 lanes) * 4 eps * sum |w| |x| (the rounding bound of a
// sum of that many terms, with margin for each term's own 2-3 roundings).
TEST(WeightMatrix, EveryVariantMatchesReference) {
  for (TensorType type : kTypes)
    for (bool q8_min : {true, false}) {
      if (!q8_min && type != TensorType::Q8_0) continue;
      const int64_t cols = test_cols(type);
      const TensorType act = activation_type(type);
      const size_t a_row = activation_row_bytes(act, cols);
      const int64_t terms = cols / gguf::type_traits(type)->block_size + 16;
      for (int64_t rows : {1, 7, 29, 37, 64}) {  // 29: a group whose second half is partial
        const auto w = random_weights(type, rows, cols, 1234 + static_cast<uint32_t>(rows), q8_min);
        const GemmKernel ref = gemm_kernel(type, SimdLevel::kScalar);
        ASSERT_NE(ref, nullptr) << gguf::type_name(type);
        for (int64_t nt : {1, 2, 5, 67}) {
          const auto x = random_activations(nt * cols, 99 + static_cast<uint32_t>(nt));
          std::vector<uint8_t> a(a_row * nt);
          for (int64_t t = 0; t < nt; ++t)
            quantize_activations(act, x.data() + t * cols, a.data() + t * a_row, cols,
                                 SimdLevel::kScalar);
          std::vector<float> expect(rows * nt);
          ref(cols, w.data(), gguf::row_bytes(type, cols), static_cast<int>(rows), a.data(), a_row,
              static_cast<int>(nt), expect.data(), rows);
          // sum |w| |x| per output, from the dequantized weights.
          std::vector<float> wrow(cols);
          std::vector<double> mag(rows * nt, 0.0);
          WeightMatrix scalar(type, w.data(), rows, cols, SimdLevel::kScalar);
          for (int64_t r = 0; r < rows; ++r) {
            scalar.dequantize_row(r, wrow.data());
            for (int64_t t = 0; t < nt; ++t)
              for (int64_t c = 0; c < cols; ++c)
                mag[t * rows + r] += std::fabs(wrow[c]) * (std::fabs(x[t * cols + c]) + 0.1);
          }
          for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            for (SimdLevel level : supported_levels()) {
              WeightMatrix m(type, w.data(), rows, cols, level);
              std::vector<float> y(rows * nt, NAN);
              m.multiply(x.data(), nt, y.data(), pool);
              for (int64_t i = 0; i < rows * nt; ++i) {
                const double tol = 4.0 * terms * 1.2e-7 * mag[i];
                ASSERT_NEAR(y[i], expect[i], tol)
                    << gguf::type_name(type) << (q8_min ? "" : " (no -128)") << " level "
                    << simd_level_name(m.level()) << " rows " << rows << " tokens " << nt
                    << " threads " << threads << " output " << i;
              }
            }
          }
        }
      }
    }
}

// Batch invariance: a token's outputs do not depend on the other tokens of the
// call (how many, or where it sits among them), bit for bit, for every type and
// SIMD level. Batched serving relies on it: a sequence decoded beside others
// must get exactly the logits it gets alone.
TEST(WeightMatrix, EachTokensOutputIsIndependentOfTheBatch) {
  for (TensorType type : kTypes)
    for (bool q8_min : {true, false}) {
      if (!q8_min && type != TensorType::Q8_0) continue;
      const int64_t cols = test_cols(type), rows = 80;  // 80: 5 packed groups of 16
      const auto w = random_weights(type, rows, cols, 31, q8_min);
      const int64_t max_nt = 70;
      const auto x = random_activations(max_nt * cols, 32);
      ThreadPool pool(2);
      for (SimdLevel level : supported_levels()) {
        WeightMatrix m(type, w.data(), rows, cols, level);
        // Each token alone.
        std::vector<float> alone(max_nt * rows);
        for (int64_t t = 0; t < max_nt; ++t)
          m.multiply(x.data() + t * cols, 1, alone.data() + t * rows, pool);
        for (int64_t nt : {2, 3, 4, 5, 7, 8, 13, 49, 64, 65, 70}) {
          // Tokens [off, off + nt) of x, so that a token also changes its place in the tile.
          for (int64_t off : {int64_t{0}, max_nt - nt}) {
            std::vector<float> y(nt * rows, NAN);
            m.multiply(x.data() + off * cols, nt, y.data(), pool);
            for (int64_t t = 0; t < nt; ++t)
              ASSERT_EQ(0, std::memcmp(y.data() + t * rows, alone.data() + (off + t) * rows,
                                       rows * sizeof(float)))
                  << gguf::type_name(type) << " level " << simd_level_name(m.level()) << " token "
                  << t << " of " << nt << " (offset " << off << ")";
          }
        }
      }
    }
}

// Products of one input (a layer's q, k and v; its gate and up) give, bit for
// bit, what each matrix's multiply() gives alone: at every SIMD level, for a
// vector and a batch, when the types share one packed activation record (the
// work then spans the matrices' row groups end to end, pieces straddling
// their boundaries) and when they do not (each is multiplied in turn).
TEST(WeightMatrix, SharedInputProductsMatchEachAlone) {
  const std::vector<std::vector<TensorType>> sets = {
      {TensorType::Q4_0, TensorType::Q4_0, TensorType::Q4_0},  // q, k, v of a q4_0 file
      {TensorType::Q4_K, TensorType::Q4_K, TensorType::Q6_K},  // of a q4_k_m file
      {TensorType::Q5_K, TensorType::Q8_0},                    // two activation kinds
      {TensorType::Q4_0, TensorType::Q8_0},                    // Q8 records, different offsets
      {TensorType::Q8_0, TensorType::Q8_0},                    // AVX2: one with a -128, one without
      {TensorType::Q5_0, TensorType::Q4_0}};                   // one type without a packing
  const int64_t rows[] = {80, 48, 16};                         // 5, 3 and 1 groups of 16
  ThreadPool pool(2);
  for (const auto& types : sets) {
    int64_t cols = 0;
    for (TensorType t : types) cols = std::max(cols, test_cols(t));
    std::vector<std::vector<uint8_t>> ws;
    for (size_t i = 0; i < types.size(); ++i)
      ws.push_back(
          random_weights(types[i], rows[i], cols, 41 + static_cast<uint32_t>(i), i % 2 == 0));
    for (SimdLevel level : supported_levels()) {
      std::vector<WeightMatrix> ms;
      for (size_t i = 0; i < types.size(); ++i)
        ms.emplace_back(types[i], ws[i].data(), rows[i], cols, level);
      for (int64_t nt : {1, 7}) {
        const auto x = random_activations(nt * cols, 42);
        std::vector<std::vector<float>> alone(types.size()), shared(types.size());
        std::vector<WeightMatrix::Product> products;
        for (size_t i = 0; i < types.size(); ++i) {
          alone[i].assign(nt * rows[i], NAN);
          shared[i].assign(nt * rows[i], NAN);
          ms[i].multiply(x.data(), nt, alone[i].data(), pool);
          products.push_back({&ms[i], shared[i].data()});
        }
        WeightMatrix::multiply_shared(products, x.data(), nt, pool);
        for (size_t i = 0; i < types.size(); ++i)
          ASSERT_EQ(0,
                    std::memcmp(shared[i].data(), alone[i].data(), alone[i].size() * sizeof(float)))
              << gguf::type_name(types[i]) << " (product " << i << ") level "
              << simd_level_name(level) << ", " << nt << " tokens";
      }
    }
  }
}

// The reference's integer formulation equals float arithmetic on the
// dequantized weights, up to the activations' rounding: at most half a step
// (max|x| of its block / 254) for the Q8 types, 2^-11 |x| for F16, 2^-8 |x|
// for BF16.
TEST(WeightMatrix, ReferenceMatchesDequantizedFloat) {
  for (TensorType type : kTypes) {
    const int64_t cols = test_cols(type), rows = 9;
    const int64_t block =
        type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16 ? 1 : 32;
    const auto w = random_weights(type, rows, cols, 7);
    const auto x = random_activations(cols, 8);
    WeightMatrix m(type, w.data(), rows, cols, SimdLevel::kScalar);
    ThreadPool pool(1);
    std::vector<float> y(rows);
    m.multiply(x.data(), 1, y.data(), pool);
    std::vector<float> wrow(cols);
    const int64_t act_block = activation_type(type) == TensorType::Q8_K ? 256 : block;
    for (int64_t r = 0; r < rows; ++r) {
      m.dequantize_row(r, wrow.data());
      double exact = 0, bound = 0;
      for (int64_t c0 = 0; c0 < cols; c0 += act_block) {
        float amax = 0;
        for (int64_t c = c0; c < c0 + act_block; ++c) amax = std::max(amax, std::fabs(x[c]));
        for (int64_t c = c0; c < c0 + act_block; ++c) {
          exact += static_cast<double>(wrow[c]) * x[c];
          double step = 0;
          if (type == TensorType::F16)
            step = std::fabs(x[c]) / 2048;
          else if (type == TensorType::BF16)
            step = std::fabs(x[c]) / 256;
          else if (type != TensorType::F32)
            step = amax / 254.0;
          bound += std::fabs(wrow[c]) * (step * 1.001 + (cols * 1.2e-7 + 1e-6) * std::fabs(x[c]));
        }
        if (activation_type(type) == TensorType::Q8_1) {
          // s = d * sum(q) is stored in fp16: |m| * |s| * 2^-11 more.
          uint16_t m16;  // m follows d in both Q4_1 and Q5_1 blocks
          const size_t block_bytes = gguf::type_traits(type)->block_bytes;
          std::memcpy(&m16, w.data() + r * gguf::row_bytes(type, cols) + c0 / 32 * block_bytes + 2,
                      2);
          double xsum = 0;
          for (int64_t c = c0; c < c0 + act_block; ++c) xsum += std::fabs(x[c]) + amax / 254.0;
          bound += std::fabs(q::fp16_to_fp32(m16)) * xsum / 2048;
        }
      }
      EXPECT_NEAR(y[r], exact, bound + 1e-6) << gguf::type_name(type) << " row " << r;
    }
  }
}

TEST(ActivationQuant, VariantsAreBitExact) {
  for (TensorType act : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
    const int64_t n = 1024;
    const auto x = random_activations(n, 5);
    const size_t bytes = activation_row_bytes(act, n);
    std::vector<uint8_t> ref(bytes), got(bytes);
    quantize_activations(act, x.data(), ref.data(), n, SimdLevel::kScalar);
    for (SimdLevel level : supported_levels()) {
      quantize_activations(act, x.data(), got.data(), n, level);
      EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), bytes))
          << gguf::type_name(act) << " " << simd_level_name(level);
    }
  }
}

TEST(ActivationQuant, Q8KRoundTripAndSums) {
  const auto x = random_activations(256, 11);
  q::BlockQ8_K b;
  quantize_activations(TensorType::Q8_K, x.data(), &b, 256, SimdLevel::kScalar);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(b.d * b.qs[i], x[i], amax / 254 * 1.001) << i;
  for (int g = 0; g < 16; ++g) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += b.qs[16 * g + j];
    EXPECT_EQ(b.bsums[g], s);
  }
}

// Decode streams the packed copy: 16 rows of it are no larger than 16 of the
// file's rows (the bound on bytes read per token), here equal.
TEST(Repack, PackedRowsAreTheFilesSize) {
  const int64_t cols = 2048;  // 64 blocks of 32, 8 super-blocks: no padding
  for (TensorType type :
       {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    for (bool signed_q8 : {false, true}) {
      const PackedLayout l = packed_layout(type, 3 * kPackRows, cols, signed_q8);
      EXPECT_EQ(l.groups, 3);
      EXPECT_EQ(l.group_bytes, kPackRows * gguf::row_bytes(type, cols)) << gguf::type_name(type);
    }
  }
}

// AVX2's signed Q8_0 copy notes whether any weight is -128 (its tile then
// takes the weights' |q|), and only that copy: a single -128 in the last row
// is enough.
TEST(Repack, SignedQ8CopyNotesAMinus128) {
  const int64_t rows = 37, cols = 320;
  auto w = random_weights(TensorType::Q8_0, rows, cols, 5, /*q8_min=*/false);
  for (bool signed_q8 : {true, false}) {
    PackedLayout l = packed_layout(TensorType::Q8_0, rows, cols, signed_q8);
    pack_rows(l, w.data(), rows, cols);
    EXPECT_FALSE(l.q8_holds_min) << signed_q8;
  }
  auto* last = reinterpret_cast<q::BlockQ8_0*>(
      w.data() + (rows - 1) * gguf::row_bytes(TensorType::Q8_0, cols));
  last[cols / 32 - 1].qs[31] = -128;
  for (bool signed_q8 : {true, false}) {
    PackedLayout l = packed_layout(TensorType::Q8_0, rows, cols, signed_q8);
    pack_rows(l, w.data(), rows, cols);
    EXPECT_EQ(l.q8_holds_min, signed_q8);
  }
}

// A large packed copy starts on a 2 MiB boundary (so that transparent huge
// pages can back all of it); a small one on 64 bytes, as the kernels' aligned
// loads need. Every byte of both is writable (ASan checks the sizes).
TEST(Repack, LargeCopiesStartOnHugePages) {
  constexpr size_t kHugePage = size_t{2} << 20;
  for (size_t bytes : {size_t{1}, size_t{100}, kHugePage - 64, kHugePage, 3 * kHugePage + 4160}) {
    const PackedBuffer b = allocate_packed(bytes);
    ASSERT_NE(b.get(), nullptr);
    const auto at = reinterpret_cast<uintptr_t>(b.get());
    EXPECT_EQ(at % (bytes >= kHugePage ? kHugePage : 64), 0u) << bytes;
    std::memset(b.get(), 0xA5, bytes);
    EXPECT_EQ(b[bytes - 1], 0xA5);
  }
}

TEST(WeightMatrix, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> data(1024);
  EXPECT_THROW(WeightMatrix(TensorType::Q4_0, data.data(), 2, 48), std::invalid_argument);
  EXPECT_THROW(WeightMatrix(TensorType::Q8_1, data.data(), 2, 64), std::invalid_argument);
  EXPECT_THROW(WeightMatrix(TensorType::Q4_0, nullptr, 2, 64), std::invalid_argument);
  EXPECT_THROW(WeightMatrix(TensorType::Q4_K, data.data(), 2, 128), std::invalid_argument);
}

}  // namespace
}  // namespace hearth::kernels
