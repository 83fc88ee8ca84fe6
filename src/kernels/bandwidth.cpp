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

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                     _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
  return out[0] ^ out[3];
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

// Multiply-add chains on registers only. Each chain feeds its own result back
// into the multiply, so no instruction can be hoisted out of the loop (a loop
// of constant operands was: GCC computed the AVX2 products once and timed only
// the adds). 12 chains cover a 5-cycle latency on two ports (10 needed):
// 8 measured 23% below the issue rate on the machine of docs/performance.md.
// Returns a value derived from them so the work cannot be dropped; `iters` x
// 12 instructions.
constexpr int kChains = 12;

__attribute__((target("avx512f,avx512vnni"))) int32_t int8_chains_avx512(int64_t iters,
                                                                         int32_t seed) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(seed + i);
  const __m512i b = _mm512_set1_epi8(static_cast<char>(seed + 3));
  // vpdpbusd(acc, a, b): acc's bytes are the unsigned operand as well.
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], acc[i], b);
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, s);
  return out[0] ^ out[15];
}

// vpmaddubsw alone: AVX2's int8 multiply (32 products, summed in pairs into
// i16). The kernels that can sum in i16 (Q4_0, the K types) issue about one
// per 32 products; Q8_0 needs a vpmaddwd (and a vpsignb) beside each.
__attribute__((target("avx2"))) int32_t int8_chains_avx2(int64_t iters, int32_t seed) {
  __m256i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi32(seed + i);
  const __m256i b = _mm256_set1_epi8(static_cast<char>(seed + 3));
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_maddubs_epi16(acc[i], b);
  __m256i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_epi32(s, acc[i]);
  alignas(32) int32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] ^ out[7];
}

// vpdpbusd on ymm (AVX-VNNI): 32 products summed into the int32 lanes.
__attribute__((target("avx2,avxvnni"))) int32_t int8_chains_avxvnni(int64_t iters, int32_t seed) {
  __m256i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi32(seed + i);
  const __m256i b = _mm256_set1_epi8(static_cast<char>(seed + 3));
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], acc[i], b);
  __m256i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_epi32(s, acc[i]);
  alignas(32) int32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] ^ out[7];
}

}  // namespace

double measure_int8_rate(ThreadPool& pool, int repeats) {
  const SimdLevel level = best_simd_level();
  if (level == SimdLevel::kScalar) return 0;
  const bool wide = level == SimdLevel::kAvx512;
  const double per_instruction = wide ? 64 : 32;
  // About 2^24 instructions a thread: 10-20 ms on a 3 GHz core.
  const int64_t iters = (int64_t{1} << 24) / kChains;
  volatile int32_t sink = 0;
  double best = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    pool.run([&](int t, int) {
      const int32_t v = wide                           ? int8_chains_avx512(iters, t)
                        : level == SimdLevel::kAvxVnni ? int8_chains_avxvnni(iters, t)
                                                       : int8_chains_avx2(iters, t);
      sink = sink ^ v;
    });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, per_instruction * kChains * iters * pool.size() / s / 1e9);
  }
  return best;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats) {
  bytes = std::max<size_t>(bytes / 4096 * 4096, 4096);
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(
      static_cast<uint8_t*>(std::aligned_alloc(4096, bytes)), &std::free);
  if (!buf) throw std::bad_alloc();
  // The widest loads the CPU has, whatever level the kernels are capped at:
  // the roofline is the memory's speed, not an instruction set's.
  const CpuFeatures& f = cpu_features();
  const auto read = f.avx512f ? read_avx512 : f.avx2 ? read_avx2 : read_plain;
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
      sink = sink ^ read(p, chunk);
    });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(chunk) * n / s / 1e9);
  }
  return best;
}

}  // namespace hearth::kernels
