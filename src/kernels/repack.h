// Row-interleaved copies of Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights for the AVX-512
// VNNI kernels.
// Internal to kernels.
//
// Why a copy pays for itself: in GGUF order a 32-weight block is 18 (Q4_0) or
// 34 (Q8_0) bytes, so 64-byte vector loads straddle blocks and each row's fp16
// scale is converted alone. Interleaving 16 rows makes every load one aligned
// zmm holding 4 consecutive weights of each of 16 rows (the operand shape of
// vpdpbusd against a broadcast of 4 activations), and 16 scales convert with
// one vcvtph2ps. Same bytes per weight as the file, so decode streams no more
// memory; the cost is one copy of the matrix at load time (the loader then
// drops the mapped pages from memory: gguf::GgufFile::release_pages).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "gguf/types.h"

namespace hearth::kernels {

constexpr int kPackRows = 16;  // rows per interleaved group (one zmm of int32 lanes)

// Layout, for each group of 16 rows (the last one padded with zero weights and
// zero scales):
//   quants: [blocks][L][16 rows][4 bytes]   L = 0..3 (Q4_0) or 0..7 (Q8_0)
//     Q4_0: the row's GGUF bytes qs[4L..4L+3] (low nibbles: weights 4L..4L+3,
//           high nibbles: weights 16+4L..16+4L+3), values q in 0..15, x = (q-8)d
//     Q8_0: weights 4L..4L+3 as unsigned q + 128, x = ((q+128) - 128) d, for
//           the AVX-512 tiles (vpdpbusd wants unsigned weights); as q itself
//           (offset 0) for the AVX2 tiles, which multiply signed weights
//   scales: [blocks][16 rows] fp16
// Q4_K ("blocks" are 256-weight super-blocks), per block (block_stride bytes):
//   quants: [c = 0..3][L = 0..7][16 rows][4 bytes]: the row's bytes
//           qs[32c + 4L..+3]; low nibbles are weights 4L.. of sub-block 2c,
//           high nibbles of sub-block 2c + 1 (q in 0..15, no offset)
//   each block's quants preceded by its 256-byte record (16 bytes a row, as
//   the file's d, dmin and 12 bytes of 6-bit scales and mins: a token reads
//   no more than the file's 144 bytes a row and super-block; inline, so that
//   a group is one stream from memory, not two: DecodeLayers on Zen 5, two
//   threads, against the records at the group's end, Q4_K 52.7 against 45.2
//   GB/s and Q5_K 37.5 against 35.0 at AVX-512, 44.5-49.6 against 37.7-37.9
//   and 35.9-41.2 against 26.1-27.0 at AVX2):
//     [0, 128): [8 sub-blocks][16 rows] u8: bits 0-5 the scale sc, bits 6-7
//               the min mn's low 2 bits
//     [128, 192): [4 pairs][16 rows] u8: mn >> 2 of sub-block 2k (low
//               nibble) and of 2k + 1 (high nibble)
//     [192, 224): d [16 rows] fp16; [224, 256): dmin [16 rows] fp16
//   x = d sc q - dmin mn per 32 weights. (q45k_scales_avx2.h unpacks sc and
//   mn to bytes once per block and group: two bytes a sub-block and row, as
//   an earlier layout stored them, cost 148 bytes a row.)
// Q5_K: Q4_K's layout, each block's quants followed by its fifth bits
//   qh: [j = 0..7 sub-blocks][16 rows][4 bytes]: bit L of byte p is the fifth
//       bit of weight 4L + p of sub-block j (176 bytes a row, the file's).
// Q6_K (the same 210 bytes per row and super-block as the file; the group
// padded to 64 bytes): per super-block, u = q + 32 in 0..63 of weight
// 16j + n (sub-block j = 0..15, n = 0..15) split into planes
//   ql: [j][h = 0..1][16 rows][4 bytes]: byte p holds u(4h + p) & 15 in its
//       low nibble, u(8 + 4h + p) & 15 in its high nibble
//   qh: [j][16 rows][4 bytes]: byte p holds u(4k + p) >> 4 in bits 2k, 2k + 1
//       (k = 0..3), so shifts and one mask give 4 weights of 16 rows per zmm
//   then sc: [blocks][16 sub-blocks][16 rows] int8, d: [blocks][16] fp16;
//   x = d sc (u - 32).
// Q4_K / Q5_K's per-block record (above): its size and where mn >> 2 and d
// start (dmin follows d's 16).
constexpr size_t kQ45kRecordBytes = 16 * kPackRows;
constexpr size_t kQ45kRecordMinHigh = 8 * kPackRows;
constexpr size_t kQ45kRecordD = 12 * kPackRows;

struct PackedLayout {
  gguf::TensorType type = gguf::TensorType::Q4_0;
  int64_t groups = 0, blocks = 0;
  size_t quant_bytes_per_block =
      0;  // 16 rows: 256 (Q4_0), 512 (Q8_0), 2048 (Q4_K), 2560 (Q5_K), 3072 (Q6_K)
  // Bytes from one block of a group to the next: quant_bytes_per_block, and
  // for Q4_K and Q5_K the block's record before its quants.
  size_t block_stride = 0;
  size_t group_bytes = 0;  // quants then scales of one row group, padded to 64 bytes
  int offset = 0;          // 8 (Q4_0) or 128 (Q8_0 for AVX-512): x = (u - offset) d; 0 (Q8_0 for
                           // AVX2, Q4_K, Q5_K, Q6_K)
  // AVX2's signed Q8_0 only: whether some stored q is -128. Its decode tile
  // then takes |q_w| of every weight (vpabsb) and gives q_w's sign to the
  // activation; without one it takes the activation's |q| once and gives
  // the activation's sign to q_w (vpsignb cannot negate -128), 7 vector
  // instructions fewer a step of 8 rows (gemm_packed_avx2.cpp). llama.cpp's
  // quantizer never writes -128 (q = round(x * 127 / amax)), so a file's
  // matrices take the second form unless it was written otherwise. Set by
  // pack_rows.
  bool q8_holds_min = true;
};

struct FreeDeleter {
  void operator()(void* p) const;
};
using PackedBuffer = std::unique_ptr<uint8_t[], FreeDeleter>;

// Whether `type` has a packed layout (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K).
bool can_pack(gguf::TensorType type);
// `signed_q8`: Q8_0 stored as q (the AVX2 tiles), else as q + 128.
PackedLayout packed_layout(gguf::TensorType type, int64_t rows, int64_t cols,
                           bool signed_q8 = false);
// A 64-byte aligned buffer of `bytes` for a packed copy (or the KV cache,
// cpu_backend_kv.h); one of 2 MiB or more
// starts on a 2 MiB boundary and is backed by transparent huge pages where
// the kernel has them (madvise, the mode Debian ships). Why: a copy is
// streamed once a token, 4 KiB pages cost a page fault each at load (TinyLlama
// Q4_K_M on Zen 5 under a paravirtualised kernel: hearth bench 3.3-3.7 s with
// huge pages, 4.4-5.9 without) and a TLB miss each 4 KiB in generation.
PackedBuffer allocate_packed(size_t bytes);
// 64-byte aligned copy of data ([rows][row_bytes] GGUF blocks) in the layout;
// sets layout.q8_holds_min for a signed Q8_0 copy.
PackedBuffer pack_rows(PackedLayout& layout, const void* data, int64_t rows, int64_t cols);

}  // namespace hearth::kernels
