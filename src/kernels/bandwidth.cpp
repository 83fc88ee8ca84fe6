#include "kernels/bandwidth.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"

namespace hearth::kernels {
namespace {

// XOR of every 64-byte line, so the loads cannot be optimized away.
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t out[8];
  _mm512_store_si512(out, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
  return out[0] ^ out[7];
}

uint64_t read_plain(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    acc ^= v;
  }
  return acc;
}

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats) {
  bytes = std::max<size_t>(bytes / 4096 * 4096, 4096);
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(
      static_cast<uint8_t*>(std::aligned_alloc(4096, bytes)), &std::free);
  if (!buf) throw std::bad_alloc();
  const bool wide = cpu_features().avx512f;
  const int n = pool.size();
  const size_t chunk = bytes / n / 256 * 256;
  // Each thread touches its own part first (page faults out of the timing).
  pool.run([&](int t, int) { std::memset(buf.get() + t * chunk, t + 1, chunk); });
  volatile uint64_t sink = 0;
  double best = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    pool.run([&](int t, int) {
      const uint8_t* p = buf.get() + t * chunk;
      sink = sink ^ (wide ? read_avx512(p, chunk) : read_plain(p, chunk));
    });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(chunk) * n / s / 1e9);
  }
  return best;
}

}  // namespace hearth::kernels
