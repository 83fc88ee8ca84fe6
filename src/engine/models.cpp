#include "engine/models.h"

#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include "engine/limits.h"
#include "gguf/model_info.h"
#include "model/hparams.h"
#include "model/memory.h"

namespace hearth::engine {

namespace {

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                               : uint64_t{8} << 30;
}

// Destroys the unloaded models whose last references `doomed` holds (outside
// the manager's lock: their schedulers join), then gives the freed memory back
// to the system: glibc keeps freed chunks in its arenas, so without a trim
// the idle RSS grew from 98 MB to 400 MB over 50 load/unload cycles (no leak).
void destroy_models(std::vector<std::shared_ptr<LoadedModel>>& doomed) {
  if (doomed.empty()) return;
  doomed.clear();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

uint64_t estimate_serving_bytes(const std::string& path, int64_t n_ctx, int n_parallel,
                                int64_t* resolved_ctx, backend::KvType kv_type) {
  const auto file = gguf::GgufFile::open(path);
  const auto hp = model::read_hparams(*file);
  const int64_t train = hp.n_ctx_train;
  // More than the model allows is that much, as Ollama caps it (tools send
  // one num_ctx for every model: Continue, Open WebUI's setting).
  const int64_t ctx = n_ctx > 0 ? std::min(n_ctx, max_context(hp))
                                : std::min<int64_t>(train > 0 ? train : 4096, 4096);
  if (resolved_ctx) *resolved_ctx = ctx;
  // A context the memory cannot hold is the request's error (ParamError, a 400).
  if (n_ctx > 0) validate_context(hp, ctx, kv_type);
  const uint64_t weights = gguf::describe_model(*file).weights_bytes;
  // The scheduler's passes hold at most 512 tokens.
  return model::estimate_memory(hp, weights, ctx, std::max(n_parallel, 1),
                                std::min<int64_t>(ctx, 512), kv_type)
      .total();
}

ModelManager::Lease& ModelManager::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    reset();
    m_ = o.m_;
    model_ = std::move(o.model_);
    o.m_ = nullptr;
  }
  return *this;
}

void ModelManager::Lease::reset() {
  if (m_ && model_) m_->release(std::move(model_));
  m_ = nullptr;
  model_.reset();
}

ModelManager::ModelManager(ModelManagerOptions o) : o_(o) {
  if (o_.max_memory == 0) o_.max_memory = physical_memory() / 4 * 3;
  if (o_.max_loaded < 1) throw std::invalid_argument("max_loaded_models must be >= 1");
  reaper_ = std::thread([this] { reaper(); });
}

ModelManager::~ModelManager() { shutdown(); }

void ModelManager::shutdown() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  std::map<std::string, std::shared_ptr<LoadedModel>> all;
  {
    std::lock_guard lk(mu_);
    all.swap(loaded_);
  }
  // Each scheduler ends first, while this holds its model: it cancels its
  // requests and calls their on_done here, which release their leases.
  // Dropping the models first left a running request's lease as a model's
  // only reference, held by that request's own callbacks inside the
  // scheduler: nothing ended it, and it went on generating past the
  // process's exit (a heap corrupted at exit, one stop in six).
  for (auto& [key, m] : all) m->scheduler.reset();
  all.clear();
}

uint64_t ModelManager::used_bytes() const {
  std::lock_guard lk(mu_);
  uint64_t b = 0;
  for (const auto& [k, m] : loaded_) b += m->bytes;
  return b;
}

namespace {
bool idle(const LoadedModel& m) { return m.leases == 0 && m.scheduler->idle(); }
}  // namespace

bool ModelManager::fits(uint64_t need) const {
  uint64_t used = loading_bytes_;
  for (const auto& [k, m] : loaded_) used += m->bytes;
  return used + need <= o_.max_memory &&
         static_cast<int>(loaded_.size()) + loads_in_progress_ < o_.max_loaded;
}

std::vector<std::shared_ptr<LoadedModel>> ModelManager::make_room(uint64_t need) {
  std::vector<std::shared_ptr<LoadedModel>> out;
  while (!loaded_.empty() && !fits(need)) {
    auto victim = loaded_.end();
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
      if (!idle(*it->second)) continue;
      if (victim == loaded_.end() || it->second->last_used < victim->second->last_used) victim = it;
    }
    if (victim == loaded_.end()) break;
    out.push_back(victim->second);
    loaded_.erase(victim);
  }
  return out;
}

bool ModelManager::wait_a_little(std::unique_lock<std::mutex>& lk,
                                 std::chrono::steady_clock::time_point deadline, bool& counted) {
  if (stop_waiting_ || stopping_) throw QueueFull("the server is stopping");
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  if (!counted) {
    if (waiting_ >= o_.max_waiting)
      throw QueueFull(fmt::format(
          "{} requests already wait for models in use to make way; try again shortly", waiting_));
    ++waiting_;
    counted = true;
  }
  // release() notifies; a scheduler finishing its last step does not, so look
  // again at least every 50 ms.
  cv_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(50)));
  return true;
}

ModelManager::Lease ModelManager::acquire(const LoadSpec& spec, KeepAlive ka,
                                          double* load_seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + o_.max_wait;
  if (load_seconds) *load_seconds = 0;
  std::shared_ptr<std::mutex> loading;
  {
    std::lock_guard lk(mu_);
    auto& l = loading_[spec.key];
    if (!l) l = std::make_shared<std::mutex>();
    loading = l;
  }
  // One loader per model: a second request for a model being loaded waits for
  // it (and counts that wait as its load time, as Ollama does).
  std::unique_lock load_lock(*loading, std::try_to_lock);
  const bool queued = !load_lock.owns_lock();
  if (queued) load_lock.lock();
  bool counted = false;  // this request is among waiting_
  struct Uncount {
    ModelManager& mm;
    bool& counted;
    ~Uncount() {
      if (counted) --mm.waiting_;  // under mu_: every exit below holds it
    }
  };
  std::vector<std::shared_ptr<LoadedModel>> doomed;
  {
    std::unique_lock lk(mu_);
    Uncount uncount{*this, counted};
    while (true) {
      auto it = loaded_.find(spec.key);
      if (it == loaded_.end()) break;
      auto& m = it->second;
      const bool too_small =
          std::min(spec.n_ctx, max_context(m->rt.model->hparams())) > m->scheduler->options().n_ctx;
      if (!too_small && m->draining == 0) {
        ++m->leases;
        m->keep_alive = ka;
        m->unload_asked = false;  // a new request's keep_alive counts again
        m->last_used = std::chrono::steady_clock::now();
        if (load_seconds && (queued || counted))
          *load_seconds = std::chrono::duration<double>(m->last_used - t0).count();
        return Lease(this, m);
      }
      if (too_small && idle(*m)) {  // reloaded with the larger context
        doomed.push_back(m);
        loaded_.erase(it);
        break;
      }
      // A larger context once its requests end (new ones for it wait on
      // `loading`), or the model gives way to another once idle. (`m` may
      // be gone once the lock was let go: nothing of it is read after.)
      const int64_t loaded_ctx = m->scheduler->options().n_ctx;
      if (!wait_a_little(lk, deadline, counted))
        throw QueueFull(fmt::format(
            "model '{}' stayed in use (at context {}) for {} s; try again", spec.name, loaded_ctx,
            std::chrono::duration_cast<std::chrono::seconds>(o_.max_wait).count()));
    }
  }
  destroy_models(doomed);

  int n_parallel = o_.n_parallel;
  int64_t ctx = 0;
  if (n_parallel <= 0) {
    // At least 4 sequences; 8 when eight KV caches take under a quarter of the budget.
    const uint64_t four = estimate_serving_bytes(spec.path, spec.n_ctx, 4, &ctx, o_.kv_type);
    const uint64_t one = estimate_serving_bytes(spec.path, spec.n_ctx, 1, nullptr, o_.kv_type);
    const uint64_t kv = (four - one) / 3;
    n_parallel = kv * 8 <= o_.max_memory / 4 ? 8 : 4;
  }
  const uint64_t need = estimate_serving_bytes(spec.path, spec.n_ctx, n_parallel, &ctx, o_.kv_type);
  if (need > o_.max_memory)
    throw OutOfMemory(fmt::format(
        "model '{}' needs {} at context {} with {} parallel sequences, more than the memory "
        "budget of {} (lower num_ctx or --parallel, or raise --max-memory)",
        spec.name, format_gib(need), ctx, n_parallel, format_gib(o_.max_memory)));
  {
    std::unique_lock lk(mu_);
    Uncount uncount{*this, counted};
    // The models in use asked to give way, least recently used first, until
    // this one would fit without them; released however this ends.
    // Their references go to `doomed`: the last one is dropped outside the lock.
    std::vector<std::shared_ptr<LoadedModel>> asked;
    struct Unask {
      std::vector<std::shared_ptr<LoadedModel>>& asked;
      std::vector<std::shared_ptr<LoadedModel>>& doomed;
      ~Unask() {
        for (auto& m : asked) {
          --m->draining;  // under mu_
          doomed.push_back(std::move(m));
        }
      }
    } unask{asked, doomed};
    while (true) {
      auto gone = make_room(need);
      doomed.insert(doomed.end(), gone.begin(), gone.end());
      if (fits(need)) {
        // Counted from here, before the lock is let go, so that a loader of
        // another model finds no room meanwhile; released below however the
        // load ends.
        ++loads_in_progress_;
        loading_bytes_ += need;
        break;
      }
      std::vector<std::shared_ptr<LoadedModel>> in_use;
      uint64_t held = loading_bytes_;  // loads in progress cannot give way: wait for them
      for (const auto& [k, m] : loaded_) {
        held += m->bytes;
        in_use.push_back(m);
      }
      uint64_t used = held;
      std::sort(in_use.begin(), in_use.end(),
                [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
      size_t count = loaded_.size() + static_cast<size_t>(loads_in_progress_);
      for (const auto& m : in_use) {
        if (used + need <= o_.max_memory && static_cast<int>(count) < o_.max_loaded) break;
        if (std::find(asked.begin(), asked.end(), m) == asked.end()) {
          ++m->draining;
          asked.push_back(m);
        }
        used -= m->bytes;
        --count;
      }
      if (!wait_a_little(lk, deadline, counted)) {
        throw OutOfMemory(fmt::format(
            "model '{}' needs {} but the models in use hold {} of the {} budget ({} loaded or "
            "loading, at most {}) and stayed in use for {} s; try again when they are idle",
            spec.name, format_gib(need), format_gib(held), format_gib(o_.max_memory),
            loaded_.size() + static_cast<size_t>(loads_in_progress_), o_.max_loaded,
            std::chrono::duration_cast<std::chrono::seconds>(o_.max_wait).count()));
      }
    }
  }
  destroy_models(doomed);

  // This load's room, given back when it fails (a loader waiting for room
  // looks again) or handed to the model as it enters loaded_.
  struct Reservation {
    ModelManager& mm;
    uint64_t bytes;
    bool held = true;
    void release() {  // under mu_
      --mm.loads_in_progress_;
      mm.loading_bytes_ -= bytes;
      held = false;
    }
    ~Reservation() {
      if (!held) return;
      {
        std::lock_guard lk(mm.mu_);
        release();
      }
      mm.cv_.notify_all();
    }
  } reservation{*this, need};
  const auto t_load = std::chrono::steady_clock::now();
  auto m = std::make_shared<LoadedModel>();
  m->key = spec.key;
  m->name = spec.name;
  m->path = spec.path;
  m->rt = Runtime::load(spec.path, o_.threads);
  SchedulerOptions so;
  so.n_slots = n_parallel;
  so.n_ctx = ctx;
  so.max_queue = o_.max_queue;
  so.kv_type = o_.kv_type;
  m->scheduler = std::make_unique<Scheduler>(m->rt, so);
  m->bytes = need;
  const auto t1 = std::chrono::steady_clock::now();
  m->load_seconds = std::chrono::duration<double>(t1 - t_load).count();
  if (load_seconds) *load_seconds = std::chrono::duration<double>(t1 - t0).count();
  std::lock_guard lk(mu_);
  reservation.release();
  m->leases = 1;
  m->keep_alive = ka;
  m->last_used = std::chrono::steady_clock::now();
  loaded_[spec.key] = m;
  return Lease(this, m);
}

void ModelManager::release(std::shared_ptr<LoadedModel>&& lease_ref) {
  {
    std::lock_guard lk(mu_);
    const std::shared_ptr<LoadedModel> m = std::move(lease_ref);  // dropped under the lock
    --m->leases;
    const KeepAlive ka = m->keep_alive;
    m->last_used = std::chrono::steady_clock::now();
    m->forever = ka.forever && !m->unload_asked;
    m->expires_at =
        m->unload_asked
            ? std::chrono::system_clock::now()
            : std::chrono::system_clock::now() +
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(ka.duration);
  }
  cv_.notify_all();  // the reaper looks again
}

void ModelManager::stop_waiting() {
  {
    std::lock_guard lk(mu_);
    stop_waiting_ = true;
  }
  cv_.notify_all();
}

bool ModelManager::unload(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = loaded_.find(key);
  if (it == loaded_.end()) return false;
  it->second->forever = false;
  it->second->expires_at = std::chrono::system_clock::now();
  it->second->unload_asked = it->second->leases > 0;
  cv_.notify_all();
  return true;
}

std::vector<ModelStatus> ModelManager::status() const {
  std::lock_guard lk(mu_);
  std::vector<ModelStatus> out;
  for (const auto& [k, m] : loaded_) {
    ModelStatus s;
    s.key = k;
    s.name = m->name;
    s.path = m->path;
    s.bytes = m->bytes;
    s.n_ctx = m->scheduler->options().n_ctx;
    s.in_use = m->leases > 0;
    s.forever = m->forever;
    s.expires_at = m->expires_at;
    if (s.in_use) {
      // expires_at is set when the last request ends (before the first one
      // ends it is unset: 1970). Until then the model stays at least its
      // keep_alive from now, as Ollama's /api/ps shows a model still loading.
      // An unload asked for meanwhile happens as the requests end.
      s.forever = m->keep_alive.forever && !m->unload_asked;
      s.expires_at = std::chrono::system_clock::now();
      if (!m->unload_asked)
        s.expires_at +=
            std::chrono::duration_cast<std::chrono::system_clock::duration>(m->keep_alive.duration);
    }
    s.scheduler = m->scheduler->stats();
    out.push_back(s);
  }
  return out;
}

void ModelManager::reaper() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    const auto now = std::chrono::system_clock::now();
    auto next = now + std::chrono::hours(1);
    std::vector<std::shared_ptr<LoadedModel>> doomed;
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      auto& m = it->second;
      const bool unused = idle(*m);
      if (unused && !m->forever && m->expires_at <= now) {
        doomed.push_back(m);
        it = loaded_.erase(it);
        continue;
      }
      if (unused && !m->forever) next = std::min(next, m->expires_at);
      // In use: look again shortly after its requests end (release() notifies).
      ++it;
    }
    if (!doomed.empty()) {
      lk.unlock();
      destroy_models(doomed);  // schedulers join outside the lock
      lk.lock();
      continue;
    }
    cv_.wait_until(lk, next);
  }
}

}  // namespace hearth::engine
