// A persistent pool of worker threads: one per core by default, created once and
// reused by every matmul, so a token's many small parallel regions do not pay
// for thread creation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace hearth::kernels {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads <= 0: physical_cores()
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Runs fn(thread_index, n_threads) on every thread, the caller's as index 0,
  // and returns when all have finished. Not reentrant.
  void run(const std::function<void(int thread, int n_threads)>& fn);
  // Splits [0, n) into contiguous chunks of at least `grain` and runs fn(begin, end) on them.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Physical cores of this machine (not hyper-threads), at least 1.
int physical_cores();

}  // namespace hearth::kernels
