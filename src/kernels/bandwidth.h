// This machine's limits, for the benchmarks' rooflines: how fast the pool's
// threads can stream a buffer much larger than the caches (decode reads every
// weight once per token), and how many int8 multiply-adds per second they can
// issue with the instruction the matmul kernels use (prefill's bound).
#pragma once

#include <cstddef>

#include "threads/thread_pool.h"

namespace hearth::kernels {

// GB/s (1e9 bytes per second), the best of `repeats` passes over `bytes`
// (default 1 GiB, far past L3) split evenly over the pool's threads.
double measure_read_bandwidth(threads::ThreadPool& pool, size_t bytes = size_t{1} << 30,
                              int repeats = 5);

// Int8 multiply-adds per second (1e9 units), all the pool's threads together,
// the best of `repeats` short runs of independent multiply-add chains held in
// registers: vpdpbusd on zmm at the AVX-512 level (64 per instruction),
// vpdpbusd on ymm at the AVX-VNNI level (32), vpmaddubsw on ymm at the AVX2
// level (32 per instruction, into i16 pairs); 0 at the scalar level (no SIMD kernel to bound).
double measure_int8_rate(threads::ThreadPool& pool, int repeats = 3);

}  // namespace hearth::kernels
