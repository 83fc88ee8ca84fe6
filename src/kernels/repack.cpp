#include "kernels/repack.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "quant/blocks.h"
#include "quant/decode.h"

namespace hearth::kernels {

namespace q = hearth::quant;
namespace decode = hearth::quant::decode;
using gguf::TensorType;

void FreeDeleter::operator()(void* p) const { std::free(p); }

bool can_pack(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q8_0 || type == TensorType::Q4_K ||
         type == TensorType::Q5_K || type == TensorType::Q6_K;
}

namespace {

// Q4_K and Q5_K: nibbles in Q4_K's order, then (Q5_K) the fifth bits.
void pack_q45_k(const PackedLayout& l, const uint8_t* src, size_t row_bytes, int64_t rows,
                uint8_t* out) {
  const int64_t nb = l.blocks;
  const bool q5 = l.type == TensorType::Q5_K;
  const size_t block_bytes = q5 ? sizeof(q::BlockQ5_K) : sizeof(q::BlockQ4_K);
  for (int64_t g = 0; g < l.groups; ++g) {
    uint8_t* quants = out + g * l.group_bytes;
    const size_t S = l.block_stride;
    for (int i = 0; i < kPackRows; ++i) {
      const int64_t r = g * kPackRows + i;
      if (r >= rows) break;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* at = src + r * row_bytes + b * block_bytes;
        uint8_t* rec = quants + b * S;
        auto* d = reinterpret_cast<uint16_t*>(rec + kQ45kRecordD);
        decode::KBlock k;
        if (q5) {
          q::BlockQ5_K blk;
          std::memcpy(&blk, at, sizeof blk);
          decode::q5_k(blk, k);
          d[i] = blk.d;
          d[kPackRows + i] = blk.dmin;
        } else {
          q::BlockQ4_K blk;
          std::memcpy(&blk, at, sizeof blk);
          decode::q4_k(blk, k);
          d[i] = blk.d;
          d[kPackRows + i] = blk.dmin;
        }
        for (int j = 0; j < 8; ++j)  // 6-bit scales and mins: sc | (mn & 3) << 6, mn >> 2
          rec[j * kPackRows + i] = static_cast<uint8_t>(k.sc[j] | (k.mn[j] & 3) << 6);
        for (int j = 0; j < 4; ++j)
          rec[kQ45kRecordMinHigh + j * kPackRows + i] =
              static_cast<uint8_t>(k.mn[2 * j] >> 2 | (k.mn[2 * j + 1] >> 2) << 4);
        uint8_t* dst = quants + b * S + kQ45kRecordBytes;
        for (int c = 0; c < 4; ++c)
          for (int L = 0; L < 8; ++L)
            for (int p = 0; p < 4; ++p)
              dst[((c * 8 + L) * kPackRows + i) * 4 + p] = static_cast<uint8_t>(
                  (k.q[64 * c + 4 * L + p] & 0xF) | (k.q[64 * c + 32 + 4 * L + p] & 0xF) << 4);
        if (!q5) continue;
        for (int j = 0; j < 8; ++j)
          for (int p = 0; p < 4; ++p) {
            uint8_t bits = 0;
            for (int L = 0; L < 8; ++L)
              bits |= static_cast<uint8_t>((k.q[32 * j + 4 * L + p] >> 4) << L);
            dst[2048 + (j * kPackRows + i) * 4 + p] = bits;
          }
      }
    }
  }
}

void pack_q6_k(const PackedLayout& l, const uint8_t* src, size_t row_bytes, int64_t rows,
               uint8_t* out) {
  const int64_t nb = l.blocks;
  for (int64_t g = 0; g < l.groups; ++g) {
    uint8_t* quants = out + g * l.group_bytes;
    auto* sc = reinterpret_cast<int8_t*>(quants + nb * l.quant_bytes_per_block);
    auto* d = reinterpret_cast<uint16_t*>(sc + nb * 16 * kPackRows);
    for (int i = 0; i < kPackRows; ++i) {
      const int64_t r = g * kPackRows + i;
      if (r >= rows) break;
      for (int64_t b = 0; b < nb; ++b) {
        q::BlockQ6_K blk;
        std::memcpy(&blk, src + r * row_bytes + b * sizeof blk, sizeof blk);
        decode::KBlock k;
        decode::q6_k(blk, k);
        d[b * kPackRows + i] = blk.d;
        uint8_t* ql = quants + b * l.quant_bytes_per_block;
        uint8_t* qh = ql + 2048;
        for (int j = 0; j < 16; ++j) {
          sc[(b * 16 + j) * kPackRows + i] = static_cast<int8_t>(k.sc[j]);
          const int8_t* w = k.q + 16 * j;  // q - 32, as decoded
          auto u = [&](int n) { return static_cast<uint8_t>(w[n] + 32); };
          for (int p = 0; p < 4; ++p) {
            for (int h = 0; h < 2; ++h)
              ql[((j * 2 + h) * kPackRows + i) * 4 + p] =
                  static_cast<uint8_t>((u(4 * h + p) & 0xF) | (u(8 + 4 * h + p) & 0xF) << 4);
            uint8_t bits = 0;
            for (int o = 0; o < 4; ++o)
              bits |= static_cast<uint8_t>((u(4 * o + p) >> 4) << (2 * o));
            qh[(j * kPackRows + i) * 4 + p] = bits;
          }
        }
      }
    }
  }
}

}  // namespace

PackedLayout packed_layout(TensorType type, int64_t rows, int64_t cols, bool signed_q8) {
  PackedLayout l;
  l.type = type;
  l.groups = (rows + kPackRows - 1) / kPackRows;
  if (type == TensorType::Q4_K || type == TensorType::Q5_K) {
    l.blocks = cols / q::kQK_K;
    l.quant_bytes_per_block = type == TensorType::Q4_K ? 16 * 128 : 16 * 160;
    l.block_stride = kQ45kRecordBytes + l.quant_bytes_per_block;
    l.group_bytes = l.blocks * l.block_stride;
    return l;
  }
  if (type == TensorType::Q6_K) {
    l.blocks = cols / q::kQK_K;
    l.quant_bytes_per_block = 16 * 192;
    l.block_stride = l.quant_bytes_per_block;
    // 3360 bytes a super-block: padded to 64 for the next group's aligned loads.
    l.group_bytes =
        (l.blocks * (l.quant_bytes_per_block + 16 * kPackRows + 2 * kPackRows) + 63) / 64 * 64;
    return l;
  }
  l.blocks = cols / q::kQK;
  l.quant_bytes_per_block = type == TensorType::Q4_0 ? 256 : 512;
  l.block_stride = l.quant_bytes_per_block;
  // Padded to 64 bytes: the kernels load each group's quants with aligned zmm
  // loads, and an odd number of blocks leaves 32 bytes over (288 or 544 a block).
  l.group_bytes = (l.blocks * (l.quant_bytes_per_block + 2 * kPackRows) + 63) / 64 * 64;
  l.offset = type == TensorType::Q4_0 ? 8 : signed_q8 ? 0 : 128;
  return l;
}

PackedBuffer allocate_packed(size_t bytes) {
  // 2 MiB, the x86-64 huge page. A large buffer starts on one and its whole
  // huge pages are advised; its tail (less than one) stays in 4 KiB pages, so
  // no tensor holds up to 2 MiB it does not use.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, std::max<size_t>(bytes, 1)) != 0) throw std::bad_alloc();
  PackedBuffer out(static_cast<uint8_t*>(p));
  // Advice only: where transparent huge pages are off, or none is free, the
  // kernel backs the range with 4 KiB pages as before.
  if (align == kHugePage) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
  return out;
}

PackedBuffer pack_rows(PackedLayout& l, const void* data, int64_t rows, int64_t cols) {
  const TensorType type = l.type;
  const size_t total = l.groups * l.group_bytes;
  PackedBuffer out = allocate_packed(total);
  std::memset(out.get(), 0, total);
  const size_t row_bytes = gguf::row_bytes(type, cols);
  const auto* src = static_cast<const uint8_t*>(data);
  if (type == TensorType::Q4_K || type == TensorType::Q5_K) {
    pack_q45_k(l, src, row_bytes, rows, out.get());
    return out;
  }
  if (type == TensorType::Q6_K) {
    pack_q6_k(l, src, row_bytes, rows, out.get());
    return out;
  }
  bool holds_min = false;
  for (int64_t g = 0; g < l.groups; ++g) {
    uint8_t* quants = out.get() + g * l.group_bytes;
    auto* scales = reinterpret_cast<uint16_t*>(quants + l.blocks * l.quant_bytes_per_block);
    for (int i = 0; i < kPackRows; ++i) {
      const int64_t r = g * kPackRows + i;
      if (r >= rows) break;
      const uint8_t* row = src + r * row_bytes;
      for (int64_t b = 0; b < l.blocks; ++b) {
        uint8_t* dst = quants + b * l.quant_bytes_per_block;
        if (type == TensorType::Q4_0) {
          q::BlockQ4_0 blk;
          std::memcpy(&blk, row + b * sizeof blk, sizeof blk);
          scales[b * kPackRows + i] = blk.d;
          for (int L = 0; L < 4; ++L) std::memcpy(dst + (L * kPackRows + i) * 4, blk.qs + 4 * L, 4);
        } else {
          q::BlockQ8_0 blk;
          std::memcpy(&blk, row + b * sizeof blk, sizeof blk);
          scales[b * kPackRows + i] = blk.d;
          for (int L = 0; L < 8; ++L)
            for (int p = 0; p < 4; ++p)
              dst[(L * kPackRows + i) * 4 + p] = static_cast<uint8_t>(blk.qs[4 * L + p] + l.offset);
          for (int j = 0; j < 32; ++j) holds_min |= blk.qs[j] == -128;
        }
      }
    }
  }
  l.q8_holds_min = type == TensorType::Q8_0 && l.offset == 0 && holds_min;
  return out;
}

}  // namespace hearth::kernels
