// ModelManager's limits on the bundled model: two different models loading at
// once still keep to max_loaded and max_memory (the second waits for room).
#include "engine/models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <latch>
#include <thread>

#include "engine/tiny_kjv_test.h"

namespace hearth::engine {
namespace {

using test::kTinyKjvPath;

constexpr int64_t kCtx = 64;

// Two models: the bundled file under two keys (the manager knows models by key).
LoadSpec spec_of(const std::string& key) { return {key, key, kTinyKjvPath, kCtx}; }

ModelManagerOptions small_options() {
  ModelManagerOptions o;
  o.n_parallel = 1;
  o.threads = 1;
  o.max_wait = std::chrono::seconds(60);
  return o;
}

struct Peak {
  std::atomic<size_t> loaded{0};
  std::atomic<uint64_t> bytes{0};
  void see(const ModelManager& mm) {
    size_t n = mm.status().size();
    for (size_t seen = loaded; n > seen && !loaded.compare_exchange_weak(seen, n);) {
    }
    uint64_t b = mm.used_bytes();
    for (uint64_t seen = bytes; b > seen && !bytes.compare_exchange_weak(seen, b);) {
    }
  }
};

// Two requests for different models at once, each holding its lease a while
// (keep_alive 0: the first gives way as it ends). Rounds, as the old race
// needed the second loader to look while the first was loading.
void load_two_at_once(const ModelManagerOptions& o, Peak& peak) {
  for (int round = 0; round < 4; ++round) {
    ModelManager mm(o);
    std::latch start(2);
    std::exception_ptr errors[2];
    auto request = [&](int i) {
      try {
        start.arrive_and_wait();
        auto lease = mm.acquire(spec_of(i == 0 ? "one" : "two"), KeepAlive{{}, false});
        peak.see(mm);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        peak.see(mm);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    };
    std::thread a(request, 0), b(request, 1);
    a.join();
    b.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
}

TEST(ModelManager, ConcurrentLoadsOfDifferentModelsKeepToMaxLoaded) {
  auto o = small_options();
  o.max_loaded = 1;
  Peak peak;
  load_two_at_once(o, peak);
  EXPECT_EQ(peak.loaded, 1u);
}

TEST(ModelManager, ConcurrentLoadsOfDifferentModelsKeepToMaxMemory) {
  auto o = small_options();
  const uint64_t need = estimate_serving_bytes(kTinyKjvPath, kCtx, 1);
  o.max_memory = need + need / 2;  // one fits, two do not
  o.max_loaded = 3;
  Peak peak;
  load_two_at_once(o, peak);
  EXPECT_EQ(peak.loaded, 1u);
  EXPECT_LE(peak.bytes, o.max_memory);
}

// A loader waiting for room that a model in use holds gives up on
// stop_waiting().
TEST(ModelManager, WaitForRoomEndsOnStopWaiting) {
  auto o = small_options();
  o.max_loaded = 1;
  ModelManager mm(o);
  auto lease = mm.acquire(spec_of("one"), {});
  std::exception_ptr error;
  std::thread waiter([&] {
    try {
      mm.acquire(spec_of("two"), {});
    } catch (...) {
      error = std::current_exception();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mm.stop_waiting();
  waiter.join();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), QueueFull);
  EXPECT_EQ(mm.status().size(), 1u);
}

// A load that fails once its room was counted (here the thread count, which
// Runtime::load checks) gives the room back: the next load fails the same way
// at once instead of waiting max_wait for room and throwing OutOfMemory.
TEST(ModelManager, FailedLoadGivesItsRoomBack) {
  auto o = small_options();
  o.max_loaded = 1;
  o.threads = -1;
  o.max_wait = std::chrono::seconds(2);
  ModelManager mm(o);
  EXPECT_THROW(mm.acquire(spec_of("one"), {}), std::invalid_argument);
  EXPECT_THROW(mm.acquire(spec_of("two"), {}), std::invalid_argument);
  EXPECT_TRUE(mm.status().empty());
}

}  // namespace
}  // namespace hearth::engine
