#include "threads/thread_pool.h"

#include <immintrin.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace hearth::threads {
namespace {

// How long an idle thread spins before it sleeps. During a forward pass the
// next parallel region starts within microseconds, and waking a sleeping
// thread costs about as much; but a thread that spins longer takes a core from
// the working threads when there are more threads than free cores.
constexpr auto kSpinTime = std::chrono::microseconds(50);
constexpr int kPausesPerClockRead = 32;

// A task count fits the 16-bit fields of the ticket below.
constexpr int kMaxTasks = 0xffff;
// parallel_for cuts its range into up to this many chunks per thread.
constexpr int kChunksPerThread = 4;

// Spins until done() holds, for at most kSpinTime; returns whether it held.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < kPausesPerClockRead; ++i) {
      if (done()) return true;
      _mm_pause();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// The ticket packs the current call's generation (32 bits), its task count
// and the next unclaimed task (16 bits each) into one atomic word, so that
// claiming a task and checking that it belongs to the current call is one
// compare-and-swap: a worker that wakes late cannot claim a task of a call
// that has already returned.
constexpr uint64_t pack(uint32_t gen, uint32_t n, uint32_t next) {
  return uint64_t{gen} << 32 | uint64_t{n} << 16 | next;
}
constexpr uint32_t gen_of(uint64_t t) { return static_cast<uint32_t>(t >> 32); }
constexpr uint32_t n_of(uint64_t t) { return static_cast<uint32_t>(t >> 16) & 0xffff; }
constexpr uint32_t next_of(uint64_t t) { return static_cast<uint32_t>(t) & 0xffff; }

}  // namespace

int online_cpus() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n > 0) return static_cast<int>(std::min<long>(n, 1 << 20));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int max_threads() { return std::min(4 * online_cpus(), kMaxTasks); }

int resolve_thread_count(std::optional<int> requested) {
  if (!requested) return physical_cores();
  const int limit = max_threads();
  if (*requested < 1 || *requested > limit)
    throw std::invalid_argument("thread count must be between 1 and " + std::to_string(limit) +
                                " (4 per online CPU, " + std::to_string(online_cpus()) +
                                " online), got " + std::to_string(*requested));
  return *requested;
}

struct ThreadPool::State {
  int n_threads = 1;
  std::vector<std::thread> workers;

  std::atomic<uint64_t> ticket{pack(0, 0, 0)};
  const std::function<void(int)>* task = nullptr;  // set before the ticket is published
  std::atomic<uint32_t> done{0};                   // tasks of the current call finished
  std::atomic<uint32_t> wake{0};  // bumped after each publication: sleeping workers wait on it
  std::atomic<bool> stop{false};
  uint32_t gen = 0;  // the caller's: generation of the last call

  std::mutex error_mutex;
  std::exception_ptr error;

  // Claims and runs tasks of generation g until none is left.
  void work(uint32_t g) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    while (gen_of(t) == g && next_of(t) < n_of(t)) {
      if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        continue;
      try {
        (*task)(static_cast<int>(next_of(t)));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n_of(t)) done.notify_all();
      t = ticket.load(std::memory_order_acquire);
    }
  }

  void worker_loop() {
    uint32_t seen = 0;
    for (;;) {
      const auto published = [&] {
        return stop.load(std::memory_order_acquire) ||
               gen_of(ticket.load(std::memory_order_acquire)) != seen;
      };
      while (!spin_until(published)) {
        // Read `wake` before checking again: a publication after the check
        // bumps it, and wait() returns at once when it no longer matches.
        const uint32_t w = wake.load(std::memory_order_acquire);
        if (published()) break;
        wake.wait(w, std::memory_order_acquire);
      }
      if (stop.load(std::memory_order_acquire)) return;
      seen = gen_of(ticket.load(std::memory_order_acquire));
      work(seen);
    }
  }

  void shutdown() {
    stop.store(true, std::memory_order_release);
    wake.fetch_add(1, std::memory_order_acq_rel);
    wake.notify_all();
    for (std::thread& t : workers) t.join();
    workers.clear();
  }
};

ThreadPool::ThreadPool(std::optional<int> n_threads) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.n_threads = resolve_thread_count(n_threads);
  s.workers.reserve(static_cast<size_t>(s.n_threads - 1));
  for (int i = 1; i < s.n_threads; ++i) {
    try {
      s.workers.emplace_back([&s] { s.worker_loop(); });
    } catch (const std::system_error& e) {
      s.shutdown();
      throw std::runtime_error("cannot start thread " + std::to_string(i + 1) + " of " +
                               std::to_string(s.n_threads) + ": " + e.what() +
                               " (ask for fewer threads)");
    }
  }
}

ThreadPool::~ThreadPool() { state_->shutdown(); }

int ThreadPool::size() const { return state_->n_threads; }

void ThreadPool::dispatch(int n_tasks, const std::function<void(int)>& task) {
  State& s = *state_;
  if (n_tasks <= 0) return;
  if (s.n_threads == 1 || n_tasks == 1) {
    for (int i = 0; i < n_tasks; ++i) task(i);
    return;
  }
  n_tasks = std::min(n_tasks, kMaxTasks);
  s.task = &task;
  s.error = nullptr;
  s.done.store(0, std::memory_order_relaxed);
  s.gen += 1;
  s.ticket.store(pack(s.gen, static_cast<uint32_t>(n_tasks), 0), std::memory_order_release);
  s.wake.fetch_add(1, std::memory_order_acq_rel);
  s.wake.notify_all();
  s.work(s.gen);
  const auto n = static_cast<uint32_t>(n_tasks);
  const auto all_done = [&] { return s.done.load(std::memory_order_acquire) == n; };
  if (!spin_until(all_done))
    for (uint32_t d; (d = s.done.load(std::memory_order_acquire)) != n;)
      s.done.wait(d, std::memory_order_acquire);
  s.task = nullptr;
  if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  const int n = size();
  dispatch(n, [&](int i) { fn(i, n); });
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks =
      std::min({int64_t{kChunksPerThread} * size(), n / grain, int64_t{kMaxTasks}});
  if (chunks <= 1 || size() == 1) {
    fn(0, n);
    return;
  }
  dispatch(static_cast<int>(chunks), [&, chunks](int c) {
    const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
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

}  // namespace hearth::threads
