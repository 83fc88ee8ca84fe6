// What the CPU we run on can do, read once with CPUID, and the SIMD level the
// kernels dispatch on.
#pragma once

#include <string_view>

namespace hearth::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool avxvnni = false;  // vpdpbusd/vpdpwssd on ymm, VEX-encoded (Alder Lake on, Zen 5;
                         // not Zen 4 or Ice Lake, which have only the EVEX form)
  bool amx_int8 = false;
};

// Detected once (CPUID + XGETBV: the OS must save the ymm/zmm state).
const CpuFeatures& cpu_features();

// Kernel families, in increasing order of capability. Each kernel exists for
// kScalar (the reference) and, where compiled, for the others. kAvxVnni is
// the AVX2 kernels with AVX-VNNI's int8 and int16 dot products on ymm: the
// level of Intel's AVX2-only desktop and laptop chips since Alder Lake. It is
// not a subset of kAvx512 (Zen 4 has AVX-512 VNNI but not AVX-VNNI), so a
// CPU may support a level without the one below it.
enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3 };
inline constexpr SimdLevel kSimdLevels[] = {SimdLevel::kScalar, SimdLevel::kAvx2,
                                            SimdLevel::kAvxVnni, SimdLevel::kAvx512};

// Whether `level`'s kernels work on ymm (kAvx2, kAvxVnni): they share the AVX2
// layouts, activation records and attention tiles.
constexpr bool is_ymm_level(SimdLevel level) {
  return level == SimdLevel::kAvx2 || level == SimdLevel::kAvxVnni;
}

std::string_view simd_level_name(SimdLevel level);
// Whether this CPU can run kernels of `level`:
//   kAvx2: AVX2 + FMA + F16C; kAvxVnni: those and AVX-VNNI; kAvx512: AVX2's
//   and AVX-512 F, BW, VL, DQ, VNNI and BF16.
bool cpu_supports(SimdLevel level);
// The best level this CPU supports, lowered by the HEARTH_SIMD environment
// variable ("scalar", "avx2", "avxvnni", "avx512") when set, to the best
// supported level at or below the one named: a way to compare variants end
// to end.
SimdLevel best_simd_level();

}  // namespace hearth::kernels
