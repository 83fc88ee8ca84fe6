#include "kernels/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace hearth::kernels {
namespace {

uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool has_fma = c & (1u << 12);
  const bool has_f16c = c & (1u << 29);
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_ok = (xcr0 & 0x6) == 0x6;              // SSE and AVX state
  const bool zmm_ok = ymm_ok && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_ok) return f;
  f.fma = has_fma;
  f.f16c = has_f16c;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avxvnni = a1 & (1u << 4);
  if (zmm_ok) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
    f.amx_int8 = d & (1u << 25);
    f.avx512bf16 = a1 & (1u << 5);
  }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string_view simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvxVnni:
      return "avxvnni";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool cpu_supports(SimdLevel level) {
  const CpuFeatures& f = cpu_features();
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2:
      return f.avx2 && f.fma && f.f16c;
    case SimdLevel::kAvxVnni:
      return f.avx2 && f.fma && f.f16c && f.avxvnni;
    case SimdLevel::kAvx512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
             f.avx512vnni && f.avx512bf16;
  }
  return false;
}

SimdLevel best_simd_level() {
  static const SimdLevel level = [] {
    SimdLevel cap = SimdLevel::kAvx512;
    if (const char* env = std::getenv("HEARTH_SIMD")) {
      const std::string want = env;
      for (SimdLevel l : kSimdLevels)
        if (want == simd_level_name(l)) cap = l;
    }
    SimdLevel best = SimdLevel::kScalar;
    for (SimdLevel l : kSimdLevels)
      if (l <= cap && cpu_supports(l)) best = l;
    return best;
  }();
  return level;
}

}  // namespace hearth::kernels
