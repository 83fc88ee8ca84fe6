#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace hearth::kernels {
namespace {

TEST(ThreadPool, RunsEveryIndexOnce) {
  ThreadPool pool(4);
  ASSERT_EQ(pool.size(), 4);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::atomic<int>> hits(4);
    pool.run([&](int t, int n) {
      ASSERT_EQ(n, 4);
      hits[t].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "round " << round;
  }
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 2, 5, 1000, 1001}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " i " << i;
  }
}

TEST(ThreadPool, SingleThreadRunsOnCaller) {
  ThreadPool pool(1);
  int calls = 0;
  pool.run([&](int t, int n) {
    EXPECT_EQ(t, 0);
    EXPECT_EQ(n, 1);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, WorkerExceptionReachesCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run([](int t, int) {
    if (t == 1) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int> sum{0};
  pool.run([&](int t, int) { sum += t + 1; });
  EXPECT_EQ(sum.load(), 3);
}

TEST(ThreadPool, DefaultIsPhysicalCores) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), physical_cores());
  EXPECT_GE(physical_cores(), 1);
}

}  // namespace
}  // namespace hearth::kernels
