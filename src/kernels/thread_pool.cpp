#include "kernels/thread_pool.h"

#include <immintrin.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hearth::kernels {
namespace {

// Workers spin this many pause instructions (a few hundred microseconds)
// before sleeping on the generation counter: during a forward pass the next
// parallel region starts within microseconds, and a futex wake-up per region
// would cost more than the region's work for small matrices.
constexpr int kSpinIterations = 1 << 14;

}  // namespace

struct ThreadPool::State {
  int n_threads = 1;
  std::vector<std::thread> workers;
  const std::function<void(int, int)>* fn = nullptr;
  std::atomic<uint64_t> generation{0};  // bumped once per run()
  std::atomic<int> pending{0};          // workers still running the current fn
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  void call(int index) {
    try {
      (*fn)(index, n_threads);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      int spins = 0;
      while ((g = generation.load(std::memory_order_acquire)) == seen) {
        if (++spins < kSpinIterations) {
          _mm_pause();
        } else {
          generation.wait(seen, std::memory_order_acquire);
        }
      }
      seen = g;
      if (stop.load(std::memory_order_acquire)) return;
      call(index);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) pending.notify_one();
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : state_(std::make_unique<State>()) {
  state_->n_threads = n_threads > 0 ? n_threads : physical_cores();
  for (int i = 1; i < state_->n_threads; ++i)
    state_->workers.emplace_back([s = state_.get(), i] { s->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  state_->stop.store(true, std::memory_order_release);
  state_->generation.fetch_add(1, std::memory_order_acq_rel);
  state_->generation.notify_all();
  for (std::thread& t : state_->workers) t.join();
}

int ThreadPool::size() const { return state_->n_threads; }

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  State& s = *state_;
  if (s.n_threads == 1) {
    fn(0, 1);
    return;
  }
  s.fn = &fn;
  s.error = nullptr;
  s.pending.store(s.n_threads - 1, std::memory_order_release);
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  s.generation.notify_all();
  s.call(0);
  int spins = 0;
  for (int left; (left = s.pending.load(std::memory_order_acquire)) != 0;) {
    if (++spins < kSpinIterations) {
      _mm_pause();
    } else {
      s.pending.wait(left, std::memory_order_acquire);
    }
  }
  s.fn = nullptr;
  if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(size(), (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  run([&](int t, int) {
    if (t >= chunks) return;
    const int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

int physical_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const bool have_mask = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;
  // A core is a (package, core id) pair; hyper-threads share one.
  std::set<std::pair<int, int>> cores;
  const int n_cpus = static_cast<int>(std::thread::hardware_concurrency());
  for (int cpu = 0; cpu < std::max(n_cpus, 1) && cpu < CPU_SETSIZE; ++cpu) {
    if (have_mask && !CPU_ISSET(cpu, &allowed)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    int core = -1, package = -1;
    std::ifstream(dir + "core_id") >> core;
    std::ifstream(dir + "physical_package_id") >> package;
    if (core < 0) core = cpu;  // topology unavailable: count logical CPUs
    cores.insert({package, core});
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

}  // namespace hearth::kernels
