#include "threads/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hearth::threads {
namespace {

using std::chrono::steady_clock;

TEST(ThreadPool, RunsEveryTaskOnce) {
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
  for (int64_t n : {0, 1, 2, 5, 13, 1000, 1001, 100000}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, 7, [&](int64_t b, int64_t e) {
      ASSERT_TRUE(e - b >= 7 || e == n) << b << ".." << e;
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " i " << i;
  }
}

TEST(ThreadPool, SingleThreadRunsOnCaller) {
  ThreadPool pool(1);
  int calls = 0;
  const auto caller = std::this_thread::get_id();
  pool.run([&](int t, int n) {
    EXPECT_EQ(t, 0);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(std::this_thread::get_id(), caller);
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
  ThreadPool pool;
  EXPECT_EQ(pool.size(), physical_cores());
  EXPECT_GE(physical_cores(), 1);
}

// Workers asleep on the futex (the pool idle far longer than the spin) must all
// wake for the next call: each task below waits until every task has started,
// so the call can only finish when size() distinct threads run at once.
TEST(ThreadPool, SleepingWorkersWake) {
  ThreadPool pool(4);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::atomic<int> started{0};
    std::atomic<bool> timed_out{false};
    pool.run([&](int, int n) {
      started.fetch_add(1);
      const auto deadline = steady_clock::now() + std::chrono::seconds(20);
      while (started.load() < n) {
        if (steady_clock::now() > deadline) {
          timed_out = true;
          return;
        }
        std::this_thread::yield();
      }
    });
    EXPECT_FALSE(timed_out) << "round " << round << ": a sleeping worker did not wake";
    EXPECT_EQ(started.load(), 4);
  }
}

// More threads than cores, with the cores kept busy by spinning threads: every
// work item still runs, and the calls finish in a bounded time (generous: this
// checks for a collapse, such as waiting on every descheduled worker, not speed).
TEST(ThreadPool, OversubscribedPoolFinishes) {
  const int n_threads = std::min(max_threads(), 4 * std::max(2, online_cpus()));
  ThreadPool pool(n_threads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (int i = 0; i < online_cpus(); ++i)
    hogs.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  const auto t0 = steady_clock::now();
  constexpr int kCalls = 2000;
  constexpr int64_t kItems = 4096;
  int64_t total = 0;
  for (int call = 0; call < kCalls; ++call) {
    std::atomic<int64_t> items{0};
    pool.parallel_for(kItems, 16, [&](int64_t b, int64_t e) { items.fetch_add(e - b); });
    total += items.load();
    ASSERT_EQ(items.load(), kItems) << "call " << call;
  }
  const double seconds = std::chrono::duration<double>(steady_clock::now() - t0).count();
  stop = true;
  for (auto& h : hogs) h.join();
  EXPECT_EQ(total, kCalls * kItems);
  EXPECT_LT(seconds, 60.0) << n_threads << " threads on " << online_cpus() << " busy CPUs";
}

TEST(ThreadPool, ThreadCountIsChecked) {
  EXPECT_EQ(max_threads(), std::min(4 * online_cpus(), 0xffff));
  for (int bad : {0, -1, max_threads() + 1, 100000}) {
    try {
      ThreadPool pool(bad);
      ADD_FAILURE() << bad << " threads accepted";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("between 1 and " + std::to_string(max_threads())), std::string::npos)
          << what;
      EXPECT_NE(what.find("got " + std::to_string(bad)), std::string::npos) << what;
    }
  }
  EXPECT_EQ(resolve_thread_count(1), 1);
  EXPECT_EQ(resolve_thread_count(max_threads()), max_threads());
  EXPECT_EQ(resolve_thread_count(std::nullopt), physical_cores());
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// A thread the OS refuses (here: no address space left for its stack) is an
// exception naming the thread, after the started ones are joined; not
// std::terminate. Run in a child process: the limit would harm the other tests.
void start_threads_without_address_space() {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t now = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE));
  const rlim_t room = now + (rlim_t{24} << 20);  // about 2 thread stacks
  const rlimit lim{room, room};
  setrlimit(RLIMIT_AS, &lim);
  try {
    ThreadPool pool(max_threads());
    std::fprintf(stderr, "created %d threads\n", pool.size());
    _exit(3);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    _exit(std::string(e.what()).find("cannot start thread") != std::string::npos ? 0 : 2);
  }
}

TEST(ThreadPoolDeathTest, ThreadCreationFailureIsAnError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(start_threads_without_address_space(), testing::ExitedWithCode(0),
              "cannot start thread");
}
#endif

}  // namespace
}  // namespace hearth::threads
