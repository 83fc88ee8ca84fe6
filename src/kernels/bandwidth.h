// Memory read bandwidth of this machine, for the benchmarks' roofline: how
// fast `threads` threads can stream a buffer much larger than the caches.
#pragma once

#include <cstddef>

#include "threads/thread_pool.h"

namespace hearth::kernels {

// GB/s (1e9 bytes per second), the best of `repeats` passes over `bytes`
// (default 1 GiB, far past L3) split evenly over the pool's threads.
double measure_read_bandwidth(threads::ThreadPool& pool, size_t bytes = size_t{1} << 30,
                              int repeats = 5);

}  // namespace hearth::kernels
