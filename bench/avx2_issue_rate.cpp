// How many AVX2 integer instructions this core issues a cycle, alone and in
// the mix of the AVX2 Q8_0 prompt tile (src/kernels/gemm_packed_avx2.cpp):
// the ceiling that mix puts on Q8_0 prompts at the AVX2 level, where 32
// signed int8 products take vpsignb, vpmaddubsw, vpmaddwd and vpaddd. Not
// part of the build; one thread:
//   g++ -std=c++20 -O2 -mavx2 -o /tmp/avx2_issue_rate bench/avx2_issue_rate.cpp &&
//   /tmp/avx2_issue_rate
// Every timed loop runs 12 independent chains, so latency (2 cycles for a
// vpaddd on Zen 5, 1 on Intel) does not limit it; the clock comes from a
// dependent scalar add chain (1 cycle on every x86 core).
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {

constexpr long kIters = 20'000'000;

double seconds_of(auto&& body) {
  double best = 1e30;
  for (int k = 0; k < 3; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = t < best ? t : best;
  }
  return best;
}

#define HEARTH_REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

}  // namespace

int main() {
  long chain = 1;
  const double t_clock = seconds_of([&] {
    for (long i = 0; i < 10 * kIters; ++i)
      asm volatile("add %0,%0\n add %0,%0\n add %0,%0\n add %0,%0" : "+r"(chain));
  });
  const double ghz = 4.0 * 10 * kIters / t_clock / 1e9;
  std::printf("clock (dependent scalar adds): %.2f GHz\n", ghz);

  __m256i r[12];
  for (int i = 0; i < 12; ++i) r[i] = _mm256_set1_epi8(static_cast<char>(i + 1));
  const __m256i k8 = _mm256_set1_epi8(3), k16 = _mm256_set1_epi16(1);
  auto report = [&](const char* what, double instructions, double t) {
    const double per_cycle = instructions / t / 1e9 / ghz;
    std::printf("%-44s %.2f instructions a cycle\n", what, per_cycle);
    return per_cycle;
  };

#define HEARTH_OP(name, i) asm volatile(name " %1,%0,%0" : "+x"(r[i]) : "x"(k8));
#define HEARTH_MADDUBS(i) HEARTH_OP("vpmaddubsw", i)
#define HEARTH_SIGN(i) HEARTH_OP("vpsignb", i)
#define HEARTH_ADDD(i) HEARTH_OP("vpaddd", i)
#define HEARTH_MADDWD(i) asm volatile("vpmaddwd %1,%0,%0" : "+x"(r[i]) : "x"(k16));
  report("vpmaddubsw", 12.0 * kIters, seconds_of([&] {
           for (long n = 0; n < kIters; ++n) {
             HEARTH_REP12(HEARTH_MADDUBS)
           }
         }));
  report("vpmaddwd", 12.0 * kIters, seconds_of([&] {
           for (long n = 0; n < kIters; ++n) {
             HEARTH_REP12(HEARTH_MADDWD)
           }
         }));
  report("vpsignb", 12.0 * kIters, seconds_of([&] {
           for (long n = 0; n < kIters; ++n) {
             HEARTH_REP12(HEARTH_SIGN)
           }
         }));
  report("vpaddd", 12.0 * kIters, seconds_of([&] {
           for (long n = 0; n < kIters; ++n) {
             HEARTH_REP12(HEARTH_ADDD)
           }
         }));
  // The Q8_0 tile's step for one row and token: x carrying w's sign, |w|
  // times it into i16 pairs, widened to i32, added to the sum.
#define HEARTH_Q8_STEP(i)                                       \
  asm volatile(                                                 \
      "vpsignb %2,%3,%%ymm15\n vpmaddubsw %%ymm15,%3,%%ymm14\n" \
      " vpmaddwd %1,%%ymm14,%%ymm14\n vpaddd %%ymm14,%0,%0"     \
      : "+x"(r[i])                                              \
      : "x"(k16), "x"(k8), "x"(k8)                              \
      : "xmm14", "xmm15");
  const double mix =
      report("Q8_0 step (sign, maddubs, maddwd, add)", 48.0 * (kIters / 4), seconds_of([&] {
               for (long n = 0; n < kIters / 4; ++n) {
                 HEARTH_REP12(HEARTH_Q8_STEP)
               }
             }));
  const double products = mix / 4 * 32;
  std::printf("=> at most %.1f int8 products a cycle a core, %.1f G/s a core\n", products,
              products * ghz);
  long sink = chain;
  for (int i = 0; i < 12; ++i) sink += _mm256_extract_epi32(r[i], 0);
  return sink == 42 ? 1 : 0;
}
