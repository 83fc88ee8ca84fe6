// Continuous batching of one model's requests.
//
// A Scheduler owns `n_slots` sequences (each a Session: a KV cache and the
// tokens in it) and one worker thread. Requests wait in a bounded queue; the
// worker admits them into free slots -- the slot whose cached tokens share the
// longest prefix with the request's prompt, so the next turn of a conversation
// evaluates only its new tokens -- and runs every active slot in one batched
// forward pass per step: one decode token for each generating sequence, and a
// chunk of at most `prompt_chunk` tokens for each sequence still reading its
// prompt, so a long prompt never stalls the streams already running. Sequences
// join and leave between steps; a cancelled request frees its slot at the next
// step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/batch.h"
#include "engine/generation.h"
#include "engine/runtime.h"
#include "engine/session.h"

namespace hearth::engine {

// The queue is full: the caller answers 503 with Retry-After.
class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Request {
  std::vector<int32_t> prompt;  // the whole sequence to continue (BOS included)
  GenerateOptions options;
  int64_t n_ctx = 0;     // context the request needs (<= the scheduler's)
  TextCallback on_text;  // each final piece of text, on the worker thread
  // Once, on the worker thread: the result (done_reason "stop" when cancelled)
  // or the error that ended the request.
  std::function<void(GenerateResult&, std::exception_ptr)> on_done;
};

// A submitted request, shared by the caller and the scheduler.
class Job {
 public:
  // Thread-safe; the slot is freed at the scheduler's next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // 0 once running or finished (or about to start: a slot was free); n >= 1:
  // n-th in the queue.
  int64_t queue_position() const { return position_; }

 private:
  friend class Scheduler;
  Request req_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> position_{0};
};

struct SchedulerOptions {
  int n_slots = 4;                 // sequences decoded together
  int64_t n_ctx = 2048;            // context of each slot, tokens
  int64_t max_queue = 512;         // requests waiting beyond the running ones
  int64_t max_batch_tokens = 512;  // tokens of one forward pass, all sequences together
  int64_t prompt_chunk = 256;      // prompt tokens of one sequence per pass
  backend::KvType kv_type = backend::KvType::F16;
};

struct SchedulerStats {
  int slots = 0;
  int active = 0;                    // requests in a slot
  int64_t queued = 0;                // requests waiting
  int64_t completed = 0;             // requests finished since start
  int64_t prompt_tokens_reused = 0;  // prompt tokens served from a slot's cache
  int64_t passes = 0;                // batched forward passes run
  int64_t tokens = 0;                // tokens those passes evaluated (prompt and generated)
};

class Scheduler {
 public:
  // `rt` must outlive the scheduler. Throws ContextError/invalid_argument for bad options.
  Scheduler(const Runtime& rt, SchedulerOptions options);
  ~Scheduler();  // cancels every request (each gets on_done) and joins the worker
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; throws QueueFull when max_queue requests already wait,
  // ContextError when its prompt cannot fit a slot's context.
  std::shared_ptr<Job> submit(Request request);

  SchedulerStats stats() const;
  bool idle() const;  // nothing running, nothing queued
  const SchedulerOptions& options() const { return o_; }
  uint64_t kv_bytes() const;  // all slots' caches

 private:
  struct Slot;
  void worker();
  bool admit();  // moves queued jobs into free slots; under mu_
  void step();   // one batched forward pass over the active slots
  void finish(Slot& s, std::exception_ptr error);
  void update_positions();  // under mu_

  const Runtime& rt_;
  SchedulerOptions o_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<BatchEvaluator> evaluator_;  // one scratch for every slot's passes
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  int active_ = 0;
  int64_t completed_ = 0, reused_ = 0, passes_ = 0, tokens_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// One forward pass at a time across every model's scheduler: each pass uses
// all the cores already, and two at once would only thrash the caches.
std::mutex& compute_mutex();

}  // namespace hearth::engine
