// The scheduler's properties on the bundled model: batched greedy equals
// unbatched greedy, the queue bound, cancellation, prefix reuse.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "engine/generate.h"
#include "engine/tiny_kjv_test.h"

namespace hearth::engine {
namespace {

using test::tiny_kjv;

using test::greedy;

struct Outcome {
  GenerateResult result;
  std::exception_ptr error;
  std::string streamed;
};

// Submits and returns a future of the outcome.
std::future<Outcome> submit(Scheduler& s, std::vector<int32_t> prompt, GenerateOptions o,
                            std::shared_ptr<Job>* job = nullptr) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto streamed = std::make_shared<std::string>();
  Request r;
  r.prompt = std::move(prompt);
  r.options = std::move(o);
  r.on_text = [streamed](std::string_view t, const GenerateResult&) {
    *streamed += t;
    return true;
  };
  r.on_done = [promise, streamed](GenerateResult& res, std::exception_ptr e) {
    promise->set_value({res, e, *streamed});
  };
  auto j = s.submit(std::move(r));
  if (job) *job = j;
  return promise->get_future();
}

// The golden prompts' tokens (tests/data/golden/greedy.json, f16).
const std::vector<std::vector<int32_t>> kPrompts = {
    {1, 512, 278, 6763},                                        // "In the beginning"
    {1, 1126, 278, 365, 25593, 1497, 20550, 6630, 267, 29892},  // "And the LORD said unto Moses,"
    {1, 350, 2222, 287, 526, 278},                              // "Blessed are the"
    {1, 450, 365, 25593, 338, 590, 1183, 561, 2018, 29936},     // "The LORD is my shepherd;"
};

TEST(Scheduler, BatchedGreedyEqualsAlone) {
  auto& rt = tiny_kjv();
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : kPrompts) {
    Session s(*rt.model, {.n_ctx = 128});
    alone.push_back(generate(s, *rt.tokenizer, p, greedy(24)).tokens);
  }
  Scheduler sched(rt, {.n_slots = 4, .n_ctx = 128});
  std::vector<std::future<Outcome>> futures;
  for (const auto& p : kPrompts) futures.push_back(submit(sched, p, greedy(24)));
  for (size_t i = 0; i < futures.size(); ++i) {
    auto o = futures[i].get();
    ASSERT_FALSE(o.error);
    EXPECT_EQ(o.result.tokens, alone[i]) << "prompt " << i;
    EXPECT_EQ(o.streamed, o.result.text);
    EXPECT_EQ(o.result.done_reason, "length");
  }
  const auto st = sched.stats();
  EXPECT_EQ(st.completed, 4);
  EXPECT_TRUE(sched.idle());
  // The four ran together: about one pass per generated token, not one per token of each.
  EXPECT_GT(st.passes, 0);
  EXPECT_LT(st.passes, 2 * 24);
  EXPECT_GE(st.tokens, 4 * 23);
}

TEST(Scheduler, QueueBeyondItsBoundIsRefused) {
  auto& rt = tiny_kjv();
  Scheduler sched(rt, {.n_slots = 1, .n_ctx = 256, .max_queue = 1});
  std::shared_ptr<Job> first;
  auto f1 = submit(sched, kPrompts[0], greedy(200), &first);
  // Wait until the first runs, so exactly one more may wait.
  for (int i = 0; i < 2000 && sched.stats().active != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::shared_ptr<Job> second;
  auto f2 = submit(sched, kPrompts[1], greedy(4), &second);
  EXPECT_EQ(second->queue_position(), 1);
  EXPECT_THROW(submit(sched, kPrompts[2], greedy(4)), QueueFull);
  first->cancel();
  EXPECT_EQ(f1.get().result.done_reason, "stop");
  EXPECT_FALSE(f2.get().error);
}

// A finished job keeps none of its callbacks, nor what they hold: a server's
// request state held the connection, and the connection held the job (to
// cancel it on a hang-up), so every answer leaked both.
TEST(Scheduler, AFinishedJobLetsGoOfItsCallbacks) {
  auto& rt = tiny_kjv();
  Scheduler sched(rt, {.n_slots = 1, .n_ctx = 128});
  auto held = std::make_shared<int>(0);
  auto done = std::make_shared<std::promise<void>>();
  Request r;
  r.prompt = kPrompts[0];
  r.options = greedy(4);
  r.on_text = [held](std::string_view, const GenerateResult&) { return true; };
  r.on_done = [held, done](GenerateResult&, std::exception_ptr) { done->set_value(); };
  const std::shared_ptr<Job> job = sched.submit(std::move(r));
  done->get_future().get();
  // on_done has run; the worker lets go of it as the call returns.
  for (int i = 0; i < 2000 && held.use_count() > 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_TRUE(job);  // still held here, as the server's hook holds it
}

TEST(Scheduler, CancellationFreesTheSlot) {
  auto& rt = tiny_kjv();
  Scheduler sched(rt, {.n_slots = 1, .n_ctx = 256});
  std::shared_ptr<Job> job;
  auto promise = std::make_shared<std::promise<void>>();
  auto started = promise->get_future();
  auto done = std::make_shared<std::promise<GenerateResult>>();
  Request r;
  r.prompt = kPrompts[0];
  r.options = greedy(-1);  // until the context is full
  auto once = std::make_shared<std::once_flag>();
  r.on_text = [promise, once](std::string_view, const GenerateResult&) {
    std::call_once(*once, [&] { promise->set_value(); });
    return true;
  };
  r.on_done = [done](GenerateResult& res, std::exception_ptr) { done->set_value(res); };
  job = sched.submit(std::move(r));
  started.wait();
  job->cancel();
  const auto res = done->get_future().get();
  EXPECT_EQ(res.done_reason, "stop");
  EXPECT_LT(res.tokens.size(), 200u);  // it did not run to the end of the context
  // The slot serves the next request.
  auto next = submit(sched, kPrompts[1], greedy(3)).get();
  EXPECT_EQ(next.result.tokens.size(), 3u);
}

TEST(Scheduler, TheNextTurnEvaluatesOnlyItsNewTokens) {
  auto& rt = tiny_kjv();
  Scheduler sched(rt, {.n_slots = 2, .n_ctx = 256});
  auto first = submit(sched, kPrompts[0], greedy(8)).get();
  EXPECT_EQ(first.result.timings.prompt_tokens, 4);
  // The conversation continues: the earlier prompt, the reply, and new text.
  std::vector<int32_t> next = kPrompts[0];
  next.insert(next.end(), first.result.tokens.begin(), first.result.tokens.end());
  next.insert(next.end(), {1126, 278});
  auto second = submit(sched, next, greedy(4)).get();
  // The reply's last token was sampled but never evaluated: it and the new text.
  EXPECT_EQ(second.result.timings.prompt_tokens, 3);
  EXPECT_GE(sched.stats().prompt_tokens_reused, 11);
}

TEST(Scheduler, APromptLongerThanTheContextIsRefused) {
  auto& rt = tiny_kjv();
  Scheduler sched(rt, {.n_slots = 1, .n_ctx = 32});
  std::vector<int32_t> long_prompt(40, 278);
  EXPECT_THROW(submit(sched, long_prompt, greedy(4)), ContextError);
}

}  // namespace
}  // namespace hearth::engine
