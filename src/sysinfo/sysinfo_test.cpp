#include "sysinfo/sysinfo.h"

#include <gtest/gtest.h>

#include <ctime>
#include <vector>

namespace hearth::sysinfo {
namespace {

TEST(Sysinfo, MemoryIsReadFromProc) {
  const Memory m = memory();
  EXPECT_GT(m.total, 64ull << 20);
  EXPECT_GT(m.available, 0u);
  EXPECT_LE(m.available, m.total);
}

TEST(Sysinfo, DiskOfAMissingPathIsItsParents) {
  const auto here = disk("/tmp");
  ASSERT_TRUE(here);
  EXPECT_GT(here->total, 0u);
  EXPECT_LE(here->available, here->total);
  const auto missing = disk("/tmp/hearth-sysinfo-no-such-dir/models");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->total, here->total);
}

TEST(Sysinfo, ProcessCountsItsMemoryAndTime) {
  const Process before = process();
  std::vector<char> block(64 << 20, 1);  // touched: resident
  volatile double x = 0;
  for (int i = 0; i < 20'000'000; ++i) x = x + i * 1e-9;
  const Process after = process();
  EXPECT_GE(after.resident_bytes, before.resident_bytes + (32u << 20));
  EXPECT_GT(after.cpu_seconds, before.cpu_seconds);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(after.start_time_seconds, now - 3600);
  EXPECT_LE(after.start_time_seconds, now + 2);
  EXPECT_EQ(block[12345], 1);
}

TEST(Sysinfo, GpusAreConsistentWhereverNvmlIs) {
  // Without the driver the list is empty; with it, each GPU reports sane numbers.
  for (const Gpu& g : gpus()) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_LE(g.memory_used, g.memory_total);
    EXPECT_GE(g.utilization, 0.0);
    EXPECT_LE(g.utilization, 1.0);
  }
}

}  // namespace
}  // namespace hearth::sysinfo
