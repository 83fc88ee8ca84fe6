// The program's one pool of worker threads, created once and reused by every
// matmul, attention, quantization and synthesis loop, so the many small
// parallel regions of a token do not pay for thread creation.
//
// Work is handed out dynamically: a call is split into tasks that whichever
// thread is free claims from one atomic counter, the caller included. A thread
// that the OS has descheduled (a machine with fewer free cores than threads)
// therefore does not hold up the others: they take the tasks it has not
// started. Idle workers spin for a few tens of microseconds, then sleep on a
// futex, so an oversubscribed machine does not lose its cores to spinning.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace hearth::threads {

// Logical CPUs online (sysconf), at least 1.
int online_cpus();
// Physical cores this process may run on (not hyper-threads), at least 1.
int physical_cores();
// The most threads a pool may have: 4 x online_cpus(). More only slows the
// machine down (and exhausts its memory for stacks first).
int max_threads();

// The thread count a user asked for, checked: nullopt -> physical_cores();
// otherwise it must lie in [1, max_threads()]. Throws std::invalid_argument
// naming the limit: "thread count must be between 1 and 8 (4 per online CPU,
// 2 online), got 100000".
int resolve_thread_count(std::optional<int> requested);

class ThreadPool {
 public:
  // n_threads: see resolve_thread_count (throws std::invalid_argument). A
  // thread the OS cannot create is a std::runtime_error, after the threads
  // already started have been joined.
  explicit ThreadPool(std::optional<int> n_threads = std::nullopt);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Runs fn(task, n_tasks) once for every task in [0, n_tasks), n_tasks =
  // size(), on up to size() threads at once (the caller's among them), and
  // returns when all have finished. A task is not tied to a thread: one thread
  // may run several when another is late. Rethrows the first exception a task
  // threw. Not reentrant (one call at a time, not from inside a task).
  void run(const std::function<void(int task, int n_tasks)>& fn);
  // Splits [0, n) into contiguous chunks of at least `grain` (a few per thread,
  // so a slow thread leaves its share to others) and runs fn(begin, end) on them.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct State;
  void dispatch(int n_tasks, const std::function<void(int)>& task);
  std::unique_ptr<State> state_;
};

}  // namespace hearth::threads
