// What the CPU we run on can do, read once with CPUID, and the SIMD level the
// kernels dispatch on.
#pragma once

#include <string_view>

namespace hearth::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool amx_int8 = false;
};

// Detected once (CPUID + XGETBV: the OS must save the ymm/zmm state).
const CpuFeatures& cpu_features();

// Kernel families, in increasing order of capability. Each kernel exists for
// kScalar (the reference) and, where compiled, for the others.
enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

std::string_view simd_level_name(SimdLevel level);
// Whether this CPU can run kernels of `level`:
//   kAvx2: AVX2 + FMA + F16C; kAvx512: F, BW, VL, DQ, VNNI and BF16.
bool cpu_supports(SimdLevel level);
// The best level this CPU supports, lowered by the HEARTH_SIMD environment
// variable ("scalar", "avx2", "avx512") when set: a way to compare variants
// end to end.
SimdLevel best_simd_level();

}  // namespace hearth::kernels
