// The roofline probes give figures a real machine can produce.
#include "kernels/bandwidth.h"

#include <gtest/gtest.h>

#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"

namespace hearth::kernels {
namespace {

// Between 1 G/s and 64 multiply-adds x 2 ports x 8 GHz per thread: a loop the
// compiler dropped, or a wrong count per instruction, lands far outside.
TEST(Int8Rate, WithinWhatACoreCanIssue) {
  ThreadPool pool(1);
  const double rate = measure_int8_rate(pool, 1);
  if (best_simd_level() == SimdLevel::kScalar) {
    EXPECT_EQ(rate, 0);
    return;
  }
  EXPECT_GT(rate, 1.0);
  EXPECT_LT(rate, 64.0 * 2 * 8);
}

}  // namespace
}  // namespace hearth::kernels
