#include "kernels/cpu_features.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace hearth::kernels {
namespace {

// The flags Linux read from CPUID for the first CPU (/proc/cpuinfo), or empty
// where there is no such file.
std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

// hearth's own CPUID reading agrees with the kernel's on the features its
// levels rest on (a wrong bit would run instructions the CPU lacks, or leave
// a level unused). Linux hides a feature whose register state the OS does not
// save, as hearth does with XGETBV.
TEST(CpuFeatures, AgreeWithTheKernelsFlags) {
  const std::set<std::string> flags = proc_cpu_flags();
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const CpuFeatures& f = cpu_features();
  const auto has = [&](const char* n) { return flags.count(n) > 0; };
  EXPECT_EQ(f.avx2, has("avx2"));
  EXPECT_EQ(f.fma, has("fma"));
  EXPECT_EQ(f.f16c, has("f16c"));
  EXPECT_EQ(f.avx512f, has("avx512f"));
  EXPECT_EQ(f.avx512bw, has("avx512bw"));
  EXPECT_EQ(f.avx512vl, has("avx512vl"));
  EXPECT_EQ(f.avx512vnni, has("avx512_vnni"));
  EXPECT_EQ(f.avxvnni, has("avx_vnni"));
}

TEST(CpuFeatures, LevelsNameAndOrderThemselves) {
  std::set<std::string> names;
  for (SimdLevel l : kSimdLevels) names.insert(std::string(simd_level_name(l)));
  EXPECT_EQ(names, (std::set<std::string>{"scalar", "avx2", "avxvnni", "avx512"}));
  EXPECT_TRUE(cpu_supports(SimdLevel::kScalar));
  // The AVX-VNNI level is the AVX2 kernels plus AVX-VNNI: never without AVX2's.
  if (cpu_supports(SimdLevel::kAvxVnni)) {
    EXPECT_TRUE(cpu_supports(SimdLevel::kAvx2));
  }
  EXPECT_EQ(cpu_supports(SimdLevel::kAvxVnni),
            cpu_supports(SimdLevel::kAvx2) && cpu_features().avxvnni);
  EXPECT_TRUE(is_ymm_level(SimdLevel::kAvx2) && is_ymm_level(SimdLevel::kAvxVnni));
  EXPECT_FALSE(is_ymm_level(SimdLevel::kScalar) || is_ymm_level(SimdLevel::kAvx512));
  // The level in use is one the CPU runs, whatever HEARTH_SIMD asked for, and
  // never above what it asked for (ctest runs this with HEARTH_SIMD=avxvnni).
  EXPECT_TRUE(cpu_supports(best_simd_level()));
  if (const char* env = std::getenv("HEARTH_SIMD"))
    for (SimdLevel l : kSimdLevels)
      if (simd_level_name(l) == env) {
        EXPECT_LE(best_simd_level(), l);
        if (cpu_supports(l)) {
          EXPECT_EQ(best_simd_level(), l);
        }
      }
}

}  // namespace
}  // namespace hearth::kernels
