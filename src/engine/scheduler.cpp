#include "engine/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace hearth::engine {

namespace {

// Calls a job's on_done, once, and lets go of its callbacks first: what they
// hold (a server's request state, and through it the connection) is freed
// with the call, not when the last holder of the Job lets go, a holder that
// such state may itself hold (a server's on-disconnect hook: a cycle).
void call_done(Request& req, GenerateResult& r, std::exception_ptr error) {
  auto done = std::move(req.on_done);
  req.on_done = nullptr;
  req.on_text = nullptr;
  if (done) done(r, error);
}

}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

std::mutex& compute_mutex() {
  static std::mutex m;
  return m;
}

struct Scheduler::Slot {
  std::unique_ptr<Session> session;
  std::shared_ptr<Job> job;  // null: free
  std::unique_ptr<Generation> gen;
  size_t prompt_pos = 0;        // prompt tokens already in the cache
  std::optional<int32_t> next;  // generating: the token to evaluate next
  int64_t prompt_evaluated = 0;
  Clock::time_point t_admit, t_first;
  Clock::time_point last_used{};
  // This step's share of the pass.
  std::vector<int32_t> chunk;
  std::span<const float> logits;
};

Scheduler::Scheduler(const Runtime& rt, SchedulerOptions o) : rt_(rt), o_(o) {
  if (o_.n_slots < 1 || o_.n_slots > 256)
    throw std::invalid_argument(fmt::format("parallel must be in [1, 256], got {}", o_.n_slots));
  if (o_.max_queue < 0) throw std::invalid_argument("max_queue must be >= 0");
  o_.max_batch_tokens = std::max<int64_t>(o_.max_batch_tokens, o_.n_slots);
  o_.prompt_chunk = std::clamp<int64_t>(o_.prompt_chunk, 1, o_.max_batch_tokens);
  for (int i = 0; i < o_.n_slots; ++i) {
    auto s = std::make_unique<Slot>();
    s->session = std::make_unique<Session>(
        *rt.model,
        SessionOptions{.n_ctx = o_.n_ctx, .n_batch = o_.prompt_chunk, .kv_type = o_.kv_type});
    o_.n_ctx = s->session->n_ctx();
    slots_.push_back(std::move(s));
  }
  evaluator_ = std::make_unique<BatchEvaluator>(*rt.model, o_.max_batch_tokens, o_.n_slots);
  thread_ = std::thread([this] { worker(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Whatever was still running or waiting ends as cancelled.
  for (auto& s : slots_) {
    if (!s->job) continue;
    s->gen->cancel();
    finish(*s, nullptr);
  }
  for (auto& j : queue_) {
    GenerateResult r;
    r.done_reason = "stop";
    call_done(j->req_, r, nullptr);
  }
}

std::shared_ptr<Job> Scheduler::submit(Request request) {
  if (request.prompt.empty()) throw std::invalid_argument("the prompt is empty");
  if (static_cast<int64_t>(request.prompt.size()) >= o_.n_ctx)
    throw ContextError(fmt::format(
        "the prompt has {} tokens but the context holds {} (raise num_ctx, or shorten the prompt)",
        request.prompt.size(), o_.n_ctx));
  auto job = std::make_shared<Job>();
  job->req_ = std::move(request);
  {
    std::lock_guard lk(mu_);
    std::erase_if(queue_, [](const auto& j) { return j->cancelled(); });
    if (static_cast<int64_t>(queue_.size()) >= o_.max_queue &&
        active_ >= static_cast<int>(slots_.size()))
      throw QueueFull(fmt::format("server busy: {} requests are waiting (max_queue {})",
                                  queue_.size(), o_.max_queue));
    queue_.push_back(job);
    // 0: a slot is free and the job starts at the next step; else its place in line.
    const bool starts_now = queue_.size() == 1 && active_ < static_cast<int>(slots_.size());
    job->position_ = starts_now ? 0 : static_cast<int64_t>(queue_.size());
  }
  cv_.notify_all();
  return job;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lk(mu_);
  return {static_cast<int>(slots_.size()),
          active_,
          static_cast<int64_t>(queue_.size()),
          completed_,
          reused_,
          passes_,
          tokens_};
}

bool Scheduler::idle() const {
  std::lock_guard lk(mu_);
  return active_ == 0 && queue_.empty();
}

uint64_t Scheduler::kv_bytes() const {
  uint64_t b = 0;
  for (const auto& s : slots_) b += s->session->kv_bytes();
  return b;
}

void Scheduler::update_positions() {
  int64_t i = 0;
  for (auto& j : queue_) j->position_ = ++i;
}

bool Scheduler::admit() {
  bool any = false;
  while (!queue_.empty()) {
    auto job = queue_.front();
    if (job->cancelled()) {
      queue_.pop_front();
      GenerateResult r;
      r.done_reason = "stop";
      mu_.unlock();
      call_done(job->req_, r, nullptr);
      mu_.lock();
      continue;
    }
    // The free slot sharing the longest prefix; among equals the least recently used.
    Slot* best = nullptr;
    size_t best_common = 0;
    for (auto& s : slots_) {
      if (s->job) continue;
      const size_t c = common_prefix(s->session->tokens(), job->req_.prompt);
      if (!best || c > best_common || (c == best_common && s->last_used < best->last_used)) {
        best = s.get();
        best_common = c;
      }
    }
    if (!best) break;
    queue_.pop_front();
    const auto& prompt = job->req_.prompt;
    // At least the last prompt token is evaluated: its logits start the reply.
    const size_t keep = std::min(best_common, prompt.size() - 1);
    best->session->truncate(static_cast<int64_t>(keep));
    best->prompt_pos = keep;
    best->prompt_evaluated = 0;
    best->next.reset();
    best->job = job;
    best->gen =
        std::make_unique<Generation>(*rt_.tokenizer, prompt, job->req_.options, job->req_.on_text);
    best->t_admit = Clock::now();
    job->position_ = 0;
    reused_ += static_cast<int64_t>(keep);
    ++active_;
    any = true;
  }
  update_positions();
  return any;
}

void Scheduler::finish(Slot& s, std::exception_ptr error) {
  auto job = std::move(s.job);
  auto gen = std::move(s.gen);
  const auto now = Clock::now();
  if (!error) gen->finish();
  auto& r = gen->result();
  r.timings.prompt_tokens = s.prompt_evaluated;
  r.timings.prompt_s = seconds(s.t_admit, s.t_first > s.t_admit ? s.t_first : now);
  r.timings.gen_s = s.t_first > s.t_admit ? seconds(s.t_first, now) : 0;
  s.next.reset();
  s.last_used = now;
  {
    std::lock_guard lk(mu_);
    --active_;
    ++completed_;
  }
  call_done(job->req_, r, error);
}

void Scheduler::step() {
  // Cancelled requests leave before the pass.
  for (auto& s : slots_)
    if (s->job && s->job->cancelled()) {
      s->gen->cancel();
      finish(*s, nullptr);
    }
  // Decode tokens first (one per generating sequence), then prompt chunks in
  // the room left.
  int64_t budget = o_.max_batch_tokens;
  std::vector<Slot*> active;
  for (auto& s : slots_) {
    s->chunk.clear();
    if (!s->job) continue;
    if (s->next) {
      s->chunk.push_back(*s->next);
      --budget;
      active.push_back(s.get());
    }
  }
  for (auto& s : slots_) {
    if (!s->job || s->next) continue;
    const auto& prompt = s->job->req_.prompt;
    const int64_t left = static_cast<int64_t>(prompt.size() - s->prompt_pos);
    const int64_t n = std::min({left, o_.prompt_chunk, budget});
    if (n <= 0) continue;
    s->chunk.assign(prompt.begin() + static_cast<std::ptrdiff_t>(s->prompt_pos),
                    prompt.begin() + static_cast<std::ptrdiff_t>(s->prompt_pos + n));
    budget -= n;
    active.push_back(s.get());
  }
  if (active.empty()) return;

  // One forward pass for every active sequence.
  std::vector<BatchItem> items;
  int64_t n_tokens = 0;
  for (Slot* s : active) {
    const bool last = s->next || s->prompt_pos + s->chunk.size() == s->job->req_.prompt.size();
    items.push_back({s->session.get(), s->chunk, last});
    n_tokens += static_cast<int64_t>(s->chunk.size());
  }
  try {
    std::lock_guard compute(compute_mutex());
    evaluator_->eval(items);
  } catch (...) {
    // Nothing was evaluated (the evaluator refuses a step whole): the step's
    // sequences end with the error.
    const auto err = std::current_exception();
    for (Slot* s : active) {
      s->gen->cancel();
      finish(*s, err);
      s->chunk.clear();
    }
    return;
  }
  {
    std::lock_guard lk(mu_);
    ++passes_;
    tokens_ += n_tokens;
  }
  for (Slot* s : active) s->logits = s->session->logits();

  for (Slot* s : active) {
    if (!s->job || s->chunk.empty()) continue;
    if (!s->next) {  // a prompt chunk
      s->prompt_pos += s->chunk.size();
      s->prompt_evaluated += static_cast<int64_t>(s->chunk.size());
      if (s->prompt_pos < s->job->req_.prompt.size()) continue;
      s->t_first = Clock::now();
    }
    try {
      s->next = s->gen->step(s->logits, s->session->n_past() < s->session->n_ctx());
    } catch (...) {
      s->gen->cancel();
      finish(*s, std::current_exception());
      continue;
    }
    if (!s->next) finish(*s, nullptr);
  }
}

void Scheduler::worker() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stopping_ || active_ > 0 || !queue_.empty(); });
    if (stopping_) return;
    admit();
    if (active_ == 0) continue;
    lk.unlock();
    step();
    lk.lock();
  }
}

}  // namespace hearth::engine
