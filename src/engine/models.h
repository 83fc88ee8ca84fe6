// The models a server keeps loaded: each a Runtime and its Scheduler, loaded on
// first use, kept `keep_alive` after its last request, and evicted least
// recently used first when a new one would not fit the memory budget or the
// count limit. A model in use is never evicted: a request for a model that
// needs its room waits for it to finish (it takes no new requests meanwhile,
// which wait in turn), as Ollama queues them, and so does one that needs a
// loaded model reloaded with a larger context.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime.h"
#include "engine/scheduler.h"

namespace hearth::engine {

// How long a model stays loaded after a request: a duration, or forever.
struct KeepAlive {
  std::chrono::nanoseconds duration{std::chrono::minutes(5)};  // 0: unload after the request
  bool forever = false;
  static KeepAlive never_expire() { return {std::chrono::nanoseconds(0), true}; }
};

// The model cannot be loaded within the memory budget (the message has the numbers).
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadSpec {
  std::string key;    // identity of the weights (a digest or the path)
  std::string name;   // as listed (/api/ps)
  std::string path;   // GGUF file
  int64_t n_ctx = 0;  // context per sequence (<= 0: the model's, at most 4096)
};

struct LoadedModel {
  std::string key, name, path;
  Runtime rt;
  std::unique_ptr<Scheduler> scheduler;
  uint64_t bytes = 0;  // estimated memory: weights + every slot's KV cache + scratch
  double load_seconds = 0;
  // Managed by ModelManager under its lock:
  int leases = 0;
  // The keep_alive of the request that came last, which counts from when the
  // last one ends (Ollama's: the most recently scheduled request's).
  KeepAlive keep_alive;
  std::chrono::system_clock::time_point expires_at{};  // when idle
  bool forever = false;
  // unload() while in use: the requests running end with it, whatever their
  // keep_alive (`ollama stop` during a reply); a later request clears it.
  bool unload_asked = false;
  // Requests waiting for this model to be idle so that it can give way to
  // theirs: while > 0 it takes no new requests (they wait until it is gone).
  int draining = 0;
  std::chrono::steady_clock::time_point last_used{};
};

struct ModelStatus {
  std::string key, name, path;
  uint64_t bytes = 0;
  int64_t n_ctx = 0;
  bool in_use = false;
  bool forever = false;
  // When it unloads; while in use, its keep_alive counted from now (the
  // least it stays).
  std::chrono::system_clock::time_point expires_at{};
  SchedulerStats scheduler;
};

struct ModelManagerOptions {
  uint64_t max_memory = 0;  // bytes for all loaded models (0: 3/4 of physical memory)
  int max_loaded = 3;
  int n_parallel = 0;          // sequences per model (0: from memory, at least 4)
  std::optional<int> threads;  // per forward pass (nullopt: one per physical core)
  int64_t max_queue = 512;
  backend::KvType kv_type = backend::KvType::F16;
  // How long a request waits for models in use to make way (for its model's
  // memory, the count limit, or a larger context) before OutOfMemory; and how
  // many requests may wait at once (each holds a server thread; more are
  // refused with QueueFull).
  std::chrono::milliseconds max_wait{std::chrono::minutes(5)};
  int max_waiting = 4;
};

// Memory to serve a model: weights, `n_parallel` KV caches of `n_ctx`, scratch.
// The context used is n_ctx, at most max_context() of the model, or (<= 0)
// the model's training context, at most 4096 (`resolved_ctx` gets it). Throws
// ParamError for a context whose KV cache the memory cannot hold.
uint64_t estimate_serving_bytes(const std::string& gguf_path, int64_t n_ctx, int n_parallel,
                                int64_t* resolved_ctx = nullptr,
                                backend::KvType kv_type = backend::KvType::F16);

class ModelManager {
 public:
  explicit ModelManager(ModelManagerOptions options);
  ~ModelManager();  // shutdown()
  // Unloads everything: requests in flight are cancelled and get their on_done
  // here, on their schedulers' threads, before this returns. Idempotent. The
  // server calls it before its HTTP side is destroyed, because what those
  // callbacks let go of (exchanges, connections) uses it.
  void shutdown();

  // A request's hold on a loaded model: while any lease lives, the model stays.
  class Lease {
   public:
    Lease() = default;
    Lease(ModelManager* m, std::shared_ptr<LoadedModel> model) : m_(m), model_(std::move(model)) {}
    Lease(Lease&& o) noexcept { *this = std::move(o); }
    Lease& operator=(Lease&& o) noexcept;
    ~Lease() { reset(); }
    void reset();
    LoadedModel* operator->() const { return model_.get(); }
    LoadedModel& operator*() const { return *model_; }
    explicit operator bool() const { return model_ != nullptr; }

   private:
    ModelManager* m_ = nullptr;
    std::shared_ptr<LoadedModel> model_;
  };

  // Loads the model if needed (evicting idle ones to make room, waiting for
  // ones in use to finish) and leases it; `load_seconds` gets the time spent
  // waiting and loading (0 when it was loaded). Throws OutOfMemory (never
  // fits, or the wait ran past max_wait), QueueFull (max_waiting requests
  // already wait), or the loader's error naming the file.
  Lease acquire(const LoadSpec& spec, KeepAlive keep_alive, double* load_seconds = nullptr);
  // Unloads the model now if idle, else when its requests end (Ollama's
  // keep_alive 0). Returns false when it is not loaded.
  bool unload(const std::string& key);
  std::vector<ModelStatus> status() const;
  // The server is stopping: requests waiting for a model to make way give up
  // at once (QueueFull), so that no handler outlives the stop by max_wait.
  void stop_waiting();
  const ModelManagerOptions& options() const { return o_; }
  uint64_t used_bytes() const;

 private:
  // Takes the lease's reference and drops it under the lock, so that the last
  // one is always the manager's: a model is never destroyed on the thread of
  // the scheduler it owns (whose last callback releases the lease), which
  // cannot join itself.
  void release(std::shared_ptr<LoadedModel>&& m);
  void reaper();
  // Unloads idle models, least recently used first, until `need` more bytes
  // and one more model fit. Returns the models to destroy (outside the lock).
  std::vector<std::shared_ptr<LoadedModel>> make_room(uint64_t need);
  // Under mu_; counts the loads in progress with the loaded models.
  bool fits(uint64_t need) const;
  // Waits (mu_ held by `lk`) a short while for a lease to end or a model to
  // go; false once `deadline` passed. Counts the waiter against max_waiting.
  bool wait_a_little(std::unique_lock<std::mutex>& lk,
                     std::chrono::steady_clock::time_point deadline, bool& counted);

  ModelManagerOptions o_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<LoadedModel>> loaded_;
  std::map<std::string, std::shared_ptr<std::mutex>> loading_;  // one loader per key
  // Models being loaded (outside mu_) and their estimated bytes: they count
  // against max_loaded and max_memory from when their room was found, or two
  // different models loading at once would both see the room empty.
  int loads_in_progress_ = 0;
  uint64_t loading_bytes_ = 0;
  bool stopping_ = false;
  bool stop_waiting_ = false;
  int waiting_ = 0;  // requests in wait_a_little
  std::thread reaper_;
};

}  // namespace hearth::engine
