// Every dequantizer against a straightforward per-weight reference written
// from the block layouts (FACTS.md table, blocks.h): weight i's bits are
// located independently of the production code's loop structure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/rows.h"

namespace hearth::quant {
namespace {

using gguf::TensorType;

constexpr int kBlocks = 24;

double h2d(uint16_t h) { return fp16_to_fp32(h); }

// Random block bytes with finite, moderate fp16 scales at the given offsets.
template <typename Block>
std::vector<Block> random_blocks(std::mt19937& rng, std::vector<size_t> half_offsets) {
  std::vector<Block> blocks(kBlocks);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  auto* raw = reinterpret_cast<uint8_t*>(blocks.data());
  for (size_t i = 0; i < sizeof(Block) * kBlocks; ++i) raw[i] = static_cast<uint8_t>(byte(rng));
  for (int b = 0; b < kBlocks; ++b) {
    for (size_t off : half_offsets) {
      const uint16_t h = fp32_to_fp16(scale(rng));
      std::memcpy(raw + b * sizeof(Block) + off, &h, 2);
    }
  }
  return blocks;
}

// Compares dequantize_row with ref(block, i) for every weight.
template <typename Block>
void check(TensorType type, const std::vector<Block>& blocks, int per_block,
           const std::function<double(const Block&, int)>& ref) {
  const int64_t n = static_cast<int64_t>(blocks.size()) * per_block;
  std::vector<float> got(n);
  dequantize_row(type, blocks.data(), got.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double want = ref(blocks[i / per_block], static_cast<int>(i % per_block));
    ASSERT_NEAR(got[i], want, 1e-6 * (std::fabs(want) + 1e-3))
        << gguf::type_name(type) << " weight " << i;
  }
}

int bit(const uint8_t* bytes, int i) { return (bytes[i / 8] >> (i % 8)) & 1; }

TEST(Dequantize, Q4_0) {
  std::mt19937 rng(1);
  auto blocks = random_blocks<BlockQ4_0>(rng, {offsetof(BlockQ4_0, d)});
  check<BlockQ4_0>(TensorType::Q4_0, blocks, 32, [](const BlockQ4_0& b, int i) {
    const int q = i < 16 ? b.qs[i] & 0xF : b.qs[i - 16] >> 4;
    return (q - 8) * h2d(b.d);
  });
}

TEST(Dequantize, Q4_1) {
  std::mt19937 rng(2);
  auto blocks = random_blocks<BlockQ4_1>(rng, {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)});
  check<BlockQ4_1>(TensorType::Q4_1, blocks, 32, [](const BlockQ4_1& b, int i) {
    const int q = i < 16 ? b.qs[i] & 0xF : b.qs[i - 16] >> 4;
    return q * h2d(b.d) + h2d(b.m);
  });
}

TEST(Dequantize, Q5_0) {
  std::mt19937 rng(3);
  auto blocks = random_blocks<BlockQ5_0>(rng, {offsetof(BlockQ5_0, d)});
  check<BlockQ5_0>(TensorType::Q5_0, blocks, 32, [](const BlockQ5_0& b, int i) {
    const int low = i < 16 ? b.qs[i] & 0xF : b.qs[i - 16] >> 4;
    const int q =
        low + 16 * bit(b.qh, i);  // qh: bit i (little-endian 32 bits) is weight i's 5th bit
    return (q - 16) * h2d(b.d);
  });
}

TEST(Dequantize, Q5_1) {
  std::mt19937 rng(4);
  auto blocks = random_blocks<BlockQ5_1>(rng, {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)});
  check<BlockQ5_1>(TensorType::Q5_1, blocks, 32, [](const BlockQ5_1& b, int i) {
    const int low = i < 16 ? b.qs[i] & 0xF : b.qs[i - 16] >> 4;
    return (low + 16 * bit(b.qh, i)) * h2d(b.d) + h2d(b.m);
  });
}

TEST(Dequantize, Q8_0) {
  std::mt19937 rng(5);
  auto blocks = random_blocks<BlockQ8_0>(rng, {offsetof(BlockQ8_0, d)});
  check<BlockQ8_0>(TensorType::Q8_0, blocks, 32,
                   [](const BlockQ8_0& b, int i) { return b.qs[i] * h2d(b.d); });
}

// Q4_K/Q5_K sub-block s (of 8): 6-bit scale and min.
void scale_min(const uint8_t* s12, int s, int* sc, int* m) {
  if (s < 4) {
    *sc = s12[s] & 63;
    *m = s12[s + 4] & 63;
  } else {
    *sc = (s12[s + 4] & 0xF) | ((s12[s - 4] >> 6) << 4);
    *m = (s12[s + 4] >> 4) | ((s12[s] >> 6) << 4);
  }
}

TEST(Dequantize, Q4_K) {
  std::mt19937 rng(6);
  auto blocks = random_blocks<BlockQ4_K>(rng, {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)});
  check<BlockQ4_K>(TensorType::Q4_K, blocks, 256, [](const BlockQ4_K& b, int i) {
    const int s = i / 32;  // sub-block; pairs of sub-blocks share 32 bytes (low, high nibble)
    const int q = (b.qs[32 * (i / 64) + i % 32] >> (4 * (s % 2))) & 0xF;
    int sc, m;
    scale_min(b.scales, s, &sc, &m);
    return h2d(b.d) * sc * q - h2d(b.dmin) * m;
  });
}

TEST(Dequantize, Q5_K) {
  std::mt19937 rng(7);
  auto blocks = random_blocks<BlockQ5_K>(rng, {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)});
  check<BlockQ5_K>(TensorType::Q5_K, blocks, 256, [](const BlockQ5_K& b, int i) {
    const int s = i / 32;
    const int low = (b.qs[32 * (i / 64) + i % 32] >> (4 * (s % 2))) & 0xF;
    const int high = (b.qh[i % 32] >> s) & 1;  // bit s of qh[l] is weight l of sub-block s
    int sc, m;
    scale_min(b.scales, s, &sc, &m);
    return h2d(b.d) * sc * (low + 16 * high) - h2d(b.dmin) * m;
  });
}

TEST(Dequantize, Q6_K) {
  std::mt19937 rng(8);
  auto blocks = random_blocks<BlockQ6_K>(rng, {offsetof(BlockQ6_K, d)});
  check<BlockQ6_K>(TensorType::Q6_K, blocks, 256, [](const BlockQ6_K& b, int i) {
    const int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
    const int low = (b.ql[64 * half + 32 * (quarter % 2) + l] >> (4 * (quarter / 2))) & 0xF;
    const int high = (b.qh[32 * half + l] >> (2 * quarter)) & 3;
    return h2d(b.d) * b.scales[i / 16] * (low + 16 * high - 32);
  });
}

TEST(Dequantize, Q2_K) {
  std::mt19937 rng(9);
  auto blocks = random_blocks<BlockQ2_K>(rng, {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)});
  check<BlockQ2_K>(TensorType::Q2_K, blocks, 256, [](const BlockQ2_K& b, int i) {
    const int r = i % 128;
    const int q = (b.qs[32 * (i / 128) + r % 32] >> (2 * (r / 32))) & 3;
    const int sc = b.scales[i / 16];
    return h2d(b.d) * (sc & 0xF) * q - h2d(b.dmin) * (sc >> 4);
  });
}

TEST(Dequantize, Q3_K) {
  std::mt19937 rng(10);
  auto blocks = random_blocks<BlockQ3_K>(rng, {offsetof(BlockQ3_K, d)});
  check<BlockQ3_K>(TensorType::Q3_K, blocks, 256, [](const BlockQ3_K& b, int i) {
    const int r = i % 128;
    const int low = (b.qs[32 * (i / 128) + r % 32] >> (2 * (r / 32))) & 3;
    const int high = (b.hmask[i % 32] >> (i / 32)) & 1;
    const int s = i / 16;  // 6-bit scale: low 4 bits in bytes 0-7, top 2 bits in bytes 8-11
    const int lo4 = (b.scales[s % 8] >> (4 * (s / 8))) & 0xF;
    const int hi2 = (b.scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return h2d(b.d) * ((lo4 | (hi2 << 4)) - 32) * (low - (high ? 0 : 4));
  });
}

TEST(Dequantize, Q8_K) {
  std::mt19937 rng(11);
  auto blocks = random_blocks<BlockQ8_K>(rng, {});
  for (auto& b : blocks) b.d = 0.01f;
  check<BlockQ8_K>(TensorType::Q8_K, blocks, 256,
                   [](const BlockQ8_K& b, int i) { return static_cast<double>(b.d) * b.qs[i]; });
}

TEST(Dequantize, FloatTypes) {
  const std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f, 3.14159f, -1e30f};
  std::vector<uint16_t> half(values.size()), brain(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    half[i] = fp32_to_fp16(values[i]);
    brain[i] = fp32_to_bf16(values[i]);
  }
  std::vector<float> got(values.size());
  dequantize_row(TensorType::F16, half.data(), got.data(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], fp16_to_fp32(half[i]));
  EXPECT_EQ(got[2], 1.0f);
  EXPECT_EQ(got[3], -2.5f);
  dequantize_row(TensorType::BF16, brain.data(), got.data(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &got[i], 4);
    EXPECT_EQ(bits, static_cast<uint32_t>(brain[i]) << 16);
  }
  EXPECT_EQ(got[3], -2.5f);
  dequantize_row(TensorType::F32, values.data(), got.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(got, values);
}

TEST(Dequantize, RejectsBadLengthAndUnknownType) {
  std::vector<uint8_t> buf(64);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize_row(TensorType::Q4_0, buf.data(), out.data(), 33), std::invalid_argument);
  EXPECT_THROW(dequantize_row(static_cast<TensorType>(99), buf.data(), out.data(), 32),
               std::invalid_argument);
  EXPECT_THROW(quantize_row(static_cast<TensorType>(99), out.data(), buf.data(), 32),
               std::invalid_argument);
  EXPECT_FALSE(can_quantize(static_cast<TensorType>(99)));
  EXPECT_TRUE(can_quantize(TensorType::Q4_K));
}

}  // namespace
}  // namespace hearth::quant
