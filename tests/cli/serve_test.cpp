// `hearth serve` speaking Ollama's API: a real server on a loopback port,
// real HTTP. Model: the bundled tiny-kjv (greedy output as llama.cpp's).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <regex>
#include <thread>
#include <tuple>

#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

using nlohmann::json;

// One server for the tests that do not need their own settings.
HearthServer& shared() {
  static HearthServer s("--parallel 4");
  return s;
}

json greedy(int n) { return {{"temperature", 0}, {"num_predict", n}}; }

TEST(Serve, RootVersionAndUnknownRoutes) {
  auto& s = shared();
  auto r = s.get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Ollama is running");
  r = s.get("/api/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.json()["version"].is_string());
  EXPECT_EQ(http_request(s.port(), "HEAD", "/api/version").status, 200);
  r = s.get("/api/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.json()["error"].is_string());
  r = s.get("/api/generate");
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(r.json()["error"].is_string());
}

TEST(Serve, GenerateWholeAnswerMatchesLlamaCppGreedy) {
  auto& s = shared();
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                    {"prompt", "In the beginning"},
                                    {"raw", true},
                                    {"stream", false},
                                    {"options", greedy(8)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json; charset=utf-8");
  const auto j = r.json();
  // llama.cpp's greedy tokens for this prompt (tests/data/golden/greedy.json).
  EXPECT_EQ(j["response"], ", and the word of the LORD");
  EXPECT_EQ(j["model"], "tiny-kjv");  // as the request named it
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["done_reason"], "length");
  EXPECT_EQ(j["eval_count"], 8);
  EXPECT_EQ(j["prompt_eval_count"], 4);
  for (const char* k : {"total_duration", "load_duration", "prompt_eval_duration", "eval_duration"})
    EXPECT_TRUE(j[k].is_number_integer()) << k;
  EXPECT_TRUE(std::regex_match(j["created_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
  EXPECT_FALSE(j.contains("context"));  // raw mode has no context
}

TEST(Serve, GenerateStreamsNdjson) {
  auto& s = shared();
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                    {"prompt", "And the LORD said unto Moses,"},
                                    {"raw", true},
                                    {"options", greedy(12)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/x-ndjson");
  const auto lines = r.ndjson();
  ASSERT_GE(lines.size(), 2u);
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    text += lines[i]["response"].get<std::string>();
  }
  const auto& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["response"], "");
  EXPECT_EQ(last["eval_count"], 12);
  // The same request whole gives the same text.
  auto whole = s.post("/api/generate", {{"model", "tiny-kjv"},
                                        {"prompt", "And the LORD said unto Moses,"},
                                        {"raw", true},
                                        {"stream", false},
                                        {"options", greedy(12)}});
  EXPECT_EQ(whole.json()["response"], text);
}

TEST(Serve, ChatWholeAndStreamed) {
  auto& s = shared();
  const json msgs = json::array({{{"role", "user"}, {"content", "Who made the heaven?"}}});
  auto r = s.post(
      "/api/chat",
      {{"model", "tiny-kjv"}, {"messages", msgs}, {"stream", false}, {"options", greedy(10)}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j["message"]["role"], "assistant");
  const std::string whole = j["message"]["content"];
  EXPECT_FALSE(whole.empty());
  EXPECT_NE(whole[0], ' ');  // a chat reply starts at its first visible character
  r = s.post("/api/chat", {{"model", "tiny-kjv"}, {"messages", msgs}, {"options", greedy(10)}});
  std::string streamed;
  const auto lines = r.ndjson();
  for (const auto& l : lines) streamed += l["message"]["content"].get<std::string>();
  EXPECT_EQ(streamed, whole);
  EXPECT_EQ(lines.back()["done"], true);
}

TEST(Serve, ErrorsAreJsonWithOllamasStatuses) {
  auto& s = shared();
  auto r = s.post("/api/generate", {{"model", "no-such-model"}, {"prompt", "x"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "model \"no-such-model\" not found");
  r = s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "x"}, {"options", {{"temperature", "hot"}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json()["error"].get<std::string>().find("temperature"), std::string::npos);
  r = s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "x"}, {"options", {{"top_p", 1.5}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json()["error"].get<std::string>().find("top_p"), std::string::npos);
  // The error quotes the number the user sent, not one narrowed on the way.
  r = s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "x"}, {"options", {{"top_k", -3}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "top_k must be >= 0 (0: off), got -3");
  r = s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "x"}, {"options", {{"repeat_last_n", -7}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "repeat_last_n must be >= -1 (-1: all, 0: off), got -7");
  r = http_request(s.port(), "POST", "/api/generate", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json()["error"].is_string());
  r = s.post("/api/pull", {{"model", "llama3"}});
  EXPECT_GE(r.status, 400);
  EXPECT_TRUE(r.json()["error"].is_string());
}

TEST(Serve, EmptyPromptLoadsAndKeepAliveZeroUnloads) {
  HearthServer s;
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["done_reason"], "load");
  auto ps = s.get("/api/ps").json();
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["name"], "tiny-kjv:latest");
  // The details /api/tags gives (Open WebUI shows them for running models).
  EXPECT_EQ(ps["models"][0]["details"], s.get("/api/tags").json()["models"][0]["details"]);
  EXPECT_EQ(ps["models"][0]["details"]["family"], "llama");
  r = s.post("/api/generate", {{"model", "tiny-kjv"}, {"keep_alive", 0}});
  EXPECT_EQ(r.json()["done_reason"], "unload");
  for (int i = 0; i < 100 && !s.get("/api/ps").json()["models"].empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(s.get("/api/ps").json()["models"].empty());
}

// Tools send one num_ctx for every model (Continue its contextLength, Open
// WebUI its setting): more than a model allows is what it allows, as Ollama
// caps it, not a 400. Beyond any model's (2^24) it is still refused.
TEST(Serve, ANumCtxBeyondTheModelIsCappedToIt) {
  HearthServer s;
  auto opts = greedy(3);
  opts["num_ctx"] = 100000;  // tiny-kjv: at most 4 x 256
  auto r =
      s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "In the"}, {"stream", false}, {"options", opts}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["eval_count"], 3);
  auto ps = s.get("/api/ps").json();
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["context_length"], 1024);
  // The same request again keeps the loaded model (no reload for a value
  // that caps to what is loaded).
  r = s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "In the"}, {"stream", false}, {"options", opts}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["load_duration"], 0);
  opts["num_ctx"] = int64_t{1} << 25;
  r = s.post("/api/generate", {{"model", "tiny-kjv"}, {"prompt", "In"}, {"options", opts}});
  EXPECT_EQ(r.status, 400);
}

// `ollama stop` (keep_alive 0) while a reply is running: the model goes when
// that reply ends, not keep_alive (5 minutes) after it.
TEST(Serve, KeepAliveZeroDuringAReplyUnloadsWhenItEnds) {
  HearthServer s("--response-cache 0");
  auto reply = std::async(std::launch::async, [&] {
    return s.post("/api/generate", {{"model", "tiny-kjv"},
                                    {"prompt", "In the beginning"},
                                    {"stream", false},
                                    {"options", {{"num_predict", 150}, {"num_ctx", 1024}}}});
  });
  bool loaded = false;
  for (int i = 0; i < 200 && !loaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const json ps = s.get("/api/ps").json();
    for (const auto& m : ps["models"]) loaded = loaded || m["queue"]["active"].get<int>() > 0;
  }
  ASSERT_TRUE(loaded) << s.get("/api/ps").body;
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"}, {"keep_alive", 0}});
  EXPECT_EQ(r.json()["done_reason"], "unload");
  const auto answer = reply.get();
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.json()["eval_count"], 150);  // the reply itself runs to its end
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = s.get("/api/ps").json()["models"].empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << s.get("/api/ps").body;
}

TEST(Serve, KeepAliveExpires) {
  HearthServer s;
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                    {"prompt", "In"},
                                    {"stream", false},
                                    {"keep_alive", "1s"},
                                    {"options", greedy(2)}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(s.get("/api/ps").json()["models"].size(), 1u);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = s.get("/api/ps").json()["models"].empty();
  }
  EXPECT_TRUE(gone) << "still loaded 10 s after a keep_alive of 1 s";
}

TEST(Serve, ARepeatedGreedyRequestIsAnsweredFromTheCache) {
  auto& s = shared();
  const json req = {{"model", "tiny-kjv"},
                    {"prompt", "Blessed are the"},
                    {"raw", true},
                    {"stream", false},
                    {"options", greedy(16)}};
  auto first = s.post("/api/generate", req);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.count("x-hearth-cache"), 0u);
  auto second = s.post("/api/generate", req);
  EXPECT_EQ(second.headers["x-hearth-cache"], "hit");
  const json a = first.json(), b = second.json();
  EXPECT_EQ(b["response"], a["response"]);
  EXPECT_EQ(b["eval_count"], a["eval_count"]);
  EXPECT_EQ(b["prompt_eval_count"], a["prompt_eval_count"]);
  // The replay's own times: no part longer than the whole.
  for (const char* part : {"load_duration", "prompt_eval_duration", "eval_duration"})
    EXPECT_LE(b[part].get<int64_t>(), b["total_duration"].get<int64_t>()) << part << " " << b;
  EXPECT_LT(b["eval_duration"].get<int64_t>(), a["eval_duration"].get<int64_t>());
}

// prompt_eval_count counts the whole prompt, cached or not, as Ollama's does
// (clients track how full the context is with it); the cached start is not
// evaluated again (a prefix-cache hit).
TEST(Serve, TheNextTurnReusesTheCachedStartAndCountsTheWholePrompt) {
  HearthServer s("--response-cache 0");
  json msgs = json::array({{{"role", "user"}, {"content", "Who made the heaven and the earth?"}}});
  auto r = s.post(
      "/api/chat",
      {{"model", "tiny-kjv"}, {"messages", msgs}, {"stream", false}, {"options", greedy(12)}});
  ASSERT_EQ(r.status, 200);
  const int64_t first = r.json()["prompt_eval_count"];
  msgs.push_back(r.json()["message"]);
  msgs.push_back({{"role", "user"}, {"content", "And what then?"}});
  r = s.post(
      "/api/chat",
      {{"model", "tiny-kjv"}, {"messages", msgs}, {"stream", false}, {"options", greedy(4)}});
  ASSERT_EQ(r.status, 200);
  const int64_t second = r.json()["prompt_eval_count"];
  EXPECT_GT(second, first + 12);  // the first exchange and the new question
  const auto usage = s.post("/v1/chat/completions",
                            {{"model", "tiny-kjv"}, {"messages", msgs}, {"max_tokens", 1}});
  ASSERT_EQ(usage.status, 200) << usage.body;
  EXPECT_EQ(usage.json()["usage"]["prompt_tokens"], second);
  const std::string metrics = s.get("/metrics").body;
  EXPECT_NE(metrics.find("llm_cache_hits_total{cache=\"prefix\"} "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("llm_cache_hits_total{cache=\"prefix\"} 0\n"), std::string::npos);
}

TEST(Serve, ConcurrentGreedyRequestsEachGetTheirAloneAnswer) {
  auto& s = shared();
  const std::vector<std::string> prompts = {"In the beginning", "Blessed are the",
                                            "The LORD is my shepherd;", "Jesus wept."};
  auto ask = [&](const std::string& p, int cache_buster) {
    return s
        .post("/api/generate",
              {{"model", "tiny-kjv"},
               {"prompt", p},
               {"raw", true},
               {"stream", false},
               {"options", {{"temperature", 0}, {"num_predict", 20 + cache_buster}}}})
        .json()["response"]
        .get<std::string>();
  };
  std::vector<std::string> alone;
  for (const auto& p : prompts) alone.push_back(ask(p, 0));
  std::vector<std::future<std::string>> together;
  for (const auto& p : prompts) together.push_back(std::async(std::launch::async, ask, p, 1));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto t = together[i].get();
    // One more token was asked for (no cache hit): the alone answer is its prefix.
    EXPECT_EQ(t.substr(0, alone[i].size()), alone[i]) << prompts[i];
  }
}

TEST(Serve, AFullQueueAnswers503WithRetryAfter) {
  // A context of 1024 makes the first request long enough to keep the slot.
  HearthServer s("--parallel 1 --max-queue 1 --response-cache 0 --ctx 1024");
  const json long_req = {{"model", "tiny-kjv"},
                         {"prompt", "In the beginning"},
                         {"raw", true},
                         {"options", {{"temperature", 0}, {"num_predict", 400}}}};
  std::atomic<bool> first_started{false};
  auto first = std::async(std::launch::async, [&] {
    return http_request(s.port(), "POST", "/api/generate", long_req.dump(), {},
                        [&](const std::string&) {
                          first_started = true;
                          return true;
                        });
  });
  while (!first_started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto second = std::async(std::launch::async, [&] { return s.post("/api/generate", long_req); });
  // Wait until the second is queued (ps shows it waiting), then a third is refused.
  for (int i = 0; i < 200; ++i) {
    auto ps = s.get("/api/ps").json();
    if (!ps["models"].empty() && ps["models"][0]["queue"]["waiting"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto third = s.post("/api/generate", long_req);
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.headers["retry-after"], "1");
  EXPECT_TRUE(third.json()["error"].is_string());
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST(Serve, AStreamedRequestSaysWhereItStandsInTheQueue) {
  HearthServer s("--parallel 1 --response-cache 0 --ctx 1024");
  json req = {{"model", "tiny-kjv"},
              {"prompt", "In the beginning"},
              {"raw", true},
              {"options", {{"temperature", 0}, {"num_predict", 200}}}};
  std::atomic<bool> started{false};
  auto first = std::async(std::launch::async, [&] {
    return http_request(s.port(), "POST", "/api/generate", req.dump(), {}, [&](const std::string&) {
      started = true;
      return true;
    });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  req["options"]["num_predict"] = 1;
  const auto second = http_request(s.port(), "POST", "/api/generate", req.dump());
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.headers.at("x-hearth-queue-position"), "1");
  EXPECT_EQ(first.get().headers.at("x-hearth-queue-position"), "0");
}

TEST(Serve, AClientThatHangsUpFreesItsSlot) {
  HearthServer s("--parallel 1 --response-cache 0 --ctx 1024");
  const json req = {{"model", "tiny-kjv"},
                    {"prompt", "In the beginning"},
                    {"raw", true},
                    {"options", {{"temperature", 0}, {"num_predict", 400}}}};
  auto active = [&] {
    auto ps = s.get("/api/ps").json();
    return ps["models"].empty() ? -1 : ps["models"][0]["queue"]["active"].get<int>();
  };
  // How long the whole generation takes on this machine, to compare with.
  auto t0 = std::chrono::steady_clock::now();
  json whole = req;
  whole["stream"] = false;
  ASSERT_EQ(s.post("/api/generate", whole).json()["eval_count"], 400);
  const auto full = std::chrono::steady_clock::now() - t0;
  // Now read the first piece, then hang up mid-generation.
  t0 = std::chrono::steady_clock::now();
  http_request(s.port(), "POST", "/api/generate", req.dump(), {},
               [](const std::string&) { return false; });
  while (active() != 0 && std::chrono::steady_clock::now() - t0 < full)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const auto freed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(active(), 0);
  // Within a step of the hang-up, not at the end of the 400 tokens.
  EXPECT_LT(freed, full / 2);
  // The one slot serves the next request.
  auto next =
      s.post("/api/generate",
             {{"model", "tiny-kjv"}, {"prompt", "In"}, {"stream", false}, {"options", greedy(2)}});
  EXPECT_EQ(next.status, 200);
}

// A second model in the server's store: a q8_0 copy of tiny-kjv, imported in place.
void import_q8(const HearthServer& s) {
  const std::string gguf = s.home() + "/tiny-q8_0.gguf";
  ASSERT_EQ(run_hearth("quantize tiny-kjv " + gguf + " q8_0").code, 0);
  setenv("HEARTH_HOME", s.home().c_str(), 1);
  const auto r = run_hearth("import kjv-q8 " + gguf);
  unsetenv("HEARTH_HOME");
  ASSERT_EQ(r.code, 0) << r.err;
}

std::vector<std::string> loaded(HearthServer& s) {
  std::vector<std::string> names;
  const json ps = s.get("/api/ps").json();  // kept: the loop reads into it
  for (const auto& m : ps["models"]) names.push_back(m["name"]);
  return names;
}

TEST(Serve, TheLeastRecentlyUsedIdleModelGivesWayToTheMemoryBudget) {
  // Room for one of the two models (f16 needs about 70 MB with 4 slots, q8_0 about 50).
  HearthServer s("--max-memory 100MiB --parallel 4");
  import_q8(s);
  const json q = {{"prompt", "In"}, {"stream", false}, {"options", greedy(2)}};
  json a = q, b = q;
  a["model"] = "tiny-kjv";
  b["model"] = "kjv-q8";
  ASSERT_EQ(s.post("/api/generate", a).status, 200);
  EXPECT_EQ(loaded(s), std::vector<std::string>{"tiny-kjv:latest"});
  auto r = s.post("/api/generate", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loaded(s), std::vector<std::string>{"kjv-q8:latest"});
  // /api/ps names it by the digest /api/tags gives (the manifest's), as Ollama does.
  std::string listed;
  const json tags = s.get("/api/tags").json();
  for (const auto& m : tags["models"])
    if (m["name"] == "kjv-q8:latest") listed = m["digest"];
  EXPECT_FALSE(listed.empty());
  EXPECT_EQ(s.get("/api/ps").json()["models"][0]["digest"], listed);
}

TEST(Serve, AModelOverTheMemoryBudgetIsRefusedBeforeLoading) {
  HearthServer s("--max-memory 8MiB");
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"}, {"prompt", "In"}, {"stream", false}});
  EXPECT_EQ(r.status, 507);
  const std::string err = r.json()["error"];
  EXPECT_NE(err.find("memory budget"), std::string::npos) << err;
  EXPECT_TRUE(loaded(s).empty());
}

TEST(Serve, MaxLoadedModelsEvictsTheIdleOne) {
  HearthServer s("--max-loaded-models 1");
  import_q8(s);
  ASSERT_EQ(s.post("/api/generate", {{"model", "tiny-kjv"}}).status, 200);  // load only
  ASSERT_EQ(s.post("/api/generate", {{"model", "kjv-q8"}}).status, 200);
  EXPECT_EQ(loaded(s), std::vector<std::string>{"kjv-q8:latest"});
}

// Streams a long /api/generate on another thread; `started` is ready once its
// first piece arrived. The future has the whole NDJSON body.
std::future<std::string> stream_in_background(int port, const json& body,
                                              std::future<void>& started) {
  auto first = std::make_shared<std::promise<void>>();
  started = first->get_future();
  return std::async(std::launch::async, [port, body, first] {
    bool told = false;
    auto r = http_request(port, "POST", "/api/generate", body.dump(), {}, [&](const std::string&) {
      if (!told) first->set_value();
      told = true;
      return true;
    });
    if (!told) first->set_value();
    return r.body;
  });
}

// The long reply several tests run beside another request: 600 greedy tokens
// of tiny-kjv (about two seconds here), streamed; returns once it started.
std::future<std::string> long_reply_started(int port) {
  std::future<void> started;
  auto reply = stream_in_background(
      port,
      {{"model", "tiny-kjv"},
       {"prompt", "In the beginning"},
       {"options", {{"temperature", 0}, {"num_predict", 600}, {"num_ctx", 1024}}}},
      started);
  started.wait();
  return reply;
}

json last_line(const std::string& ndjson) {
  const auto end = ndjson.find_last_not_of('\n');
  const auto start = ndjson.rfind('\n', end);
  return json::parse(ndjson.substr(start == std::string::npos ? 0 : start + 1));
}

TEST(Serve, ARequestForAnotherModelWaitsForTheOneInUseToFinish) {
  // Room for one model: the second waits for the first's reply to end (as
  // Ollama queues it), instead of a 507; the first reply is not cut short.
  HearthServer s("--max-loaded-models 1");
  import_q8(s);
  auto first = long_reply_started(s.port());
  auto r =
      s.post("/api/generate",
             {{"model", "kjv-q8"}, {"prompt", "In"}, {"stream", false}, {"options", greedy(2)}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loaded(s), std::vector<std::string>{"kjv-q8:latest"});
  const json done = last_line(first.get());
  EXPECT_EQ(done["done"], true) << done;
  EXPECT_EQ(done["eval_count"], 600) << done;
}

TEST(Serve, StoppingDoesNotWaitForARequestThatWaitsForAModel) {
  HearthServer s("--max-loaded-models 1");
  import_q8(s);
  std::future<void> started;
  auto first = stream_in_background(s.port(),
                                    {{"model", "tiny-kjv"},
                                     {"prompt", "In the beginning"},
                                     {"options", {{"num_predict", 100000}, {"num_ctx", 1024}}}},
                                    started);
  started.wait();
  auto waiting = std::async(std::launch::async, [&] {
    return s.post("/api/generate", {{"model", "kjv-q8"}, {"prompt", "In"}, {"stream", false}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.stop(), 0) << s.log();  // SIGTERM: a clean exit, not the SIGKILL after 15 s
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  try {
    waiting.get();  // cut off or refused: either is fine, as long as it ends
  } catch (const std::exception&) {
  }
  try {
    first.get();
  } catch (const std::exception&) {
  }
}

TEST(Serve, TheLatestRequestsKeepAliveCountsWhenTheLastOneEnds) {
  // A long reply with the default keep_alive, then a short one with 0 that
  // ends first: the model goes when the long one ends (the latest request's
  // keep_alive, as Ollama's), not 5 minutes later.
  HearthServer s;
  auto first = long_reply_started(s.port());
  auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                    {"prompt", "In"},
                                    {"stream", false},
                                    {"keep_alive", 0},
                                    {"options", {{"num_predict", 2}, {"num_ctx", 1024}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(last_line(first.get())["done"], true);
  for (int i = 0; i < 100 && !s.get("/api/ps").json()["models"].empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(s.get("/api/ps").json()["models"].empty());
}

TEST(Serve, ALargerContextWhileTheModelIsBusyReloadsItOnceIdle) {
  // Loaded at 256 and busy: a request that asks for 1024 (and must not be
  // truncated) waits for the reply to end and gets its context, instead of
  // a 400 that the prompt does not fit.
  HearthServer s;
  std::future<void> started;
  auto first = stream_in_background(s.port(),
                                    {{"model", "tiny-kjv"},
                                     {"prompt", "In the beginning"},
                                     {"options", {{"temperature", 0}, {"num_ctx", 256}}}},
                                    started);
  started.wait();
  std::string prompt;
  for (int i = 0; i < 150; ++i) prompt += " and the earth";
  auto r = s.post("/api/generate",
                  {{"model", "tiny-kjv"},
                   {"prompt", prompt},
                   {"stream", false},
                   {"truncate", false},
                   {"options", {{"temperature", 0}, {"num_predict", 2}, {"num_ctx", 1024}}}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_GT(r.json()["prompt_eval_count"].get<int64_t>(), 256) << r.body;
  EXPECT_EQ(s.get("/api/ps").json()["models"][0]["context_length"], 1024);
  EXPECT_EQ(last_line(first.get())["done"], true);
}

TEST(Serve, AWrongMethodIsA405ThatSaysWhichAreAllowed) {
  auto& s = shared();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"GET", "/api/chat", "POST"},
      {"POST", "/api/tags", "GET, HEAD"},
      {"GET", "/api/delete", "DELETE"},
      {"DELETE", "/v1/models", "GET"},
      {"GET", "/v1/chat/completions", "POST"},
      {"GET", "/v1/messages", "POST"},
      {"PATCH", "/api/hearth/conversations/abcdefgh-1", "GET, PUT, POST, DELETE"},
      {"POST", "/health", "GET, HEAD"},
  };
  for (const auto& [method, path, allow] : cases) {
    const auto r = http_request(s.port(), method, path, method == "GET" ? "" : "{}");
    EXPECT_EQ(r.status, 405) << method << " " << path;
    EXPECT_EQ(r.headers.count("allow") ? r.headers.at("allow") : "", allow)
        << method << " " << path;
  }
}

TEST(Serve, FormatJsonSchemaAlwaysParsesAndMatches) {
  auto& s = shared();
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"name", {{"type", "string"}, {"maxLength", 12}}},
                         {"age", {{"type", "integer"}, {"minimum", 0}, {"maximum", 150}}},
                         {"prophet", {{"type", "boolean"}}}}},
                       {"required", {"name", "age", "prophet"}}};
  int checked = 0;
  for (int seed = 1; seed <= 3; ++seed) {
    auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                      {"prompt", "Describe Moses as JSON:"},
                                      {"stream", false},
                                      {"format", schema},
                                      {"options", {{"seed", seed}, {"num_predict", 160}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const auto j = r.json();
    if (j["done_reason"] != "stop") continue;  // cut by num_predict: nothing to check
    const auto out = json::parse(j["response"].get<std::string>());
    ASSERT_TRUE(out.is_object());
    EXPECT_TRUE(out["name"].is_string());
    EXPECT_LE(out["name"].get<std::string>().size(), 12u * 4);
    EXPECT_TRUE(out["age"].is_number_integer());
    EXPECT_GE(out["age"].get<int64_t>(), 0);
    EXPECT_LE(out["age"].get<int64_t>(), 150);
    EXPECT_TRUE(out["prophet"].is_boolean());
    ++checked;
  }
  EXPECT_GT(checked, 0);
  auto bad = s.post("/api/generate", {{"model", "tiny-kjv"},
                                      {"prompt", "x"},
                                      {"format", {{"type", "string"}, {"pattern", "^a+$"}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.json()["error"].get<std::string>().find("pattern"), std::string::npos);
}

TEST(Serve, TheCliTalksToARunningServer) {
  HearthServer s;
  const std::string host = "127.0.0.1:" + std::to_string(s.port());
  setenv("HEARTH_HOST", host.c_str(), 1);
  // run: the answer comes from the server, which then holds the model.
  auto r = run_hearth("run tiny-kjv 'In the beginning' -n 8 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, ", and the word of the LORD");
  EXPECT_EQ(loaded(s), std::vector<std::string>{"tiny-kjv:latest"});
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tiny-kjv:latest"), std::string::npos);
  r = run_hearth("list");
  EXPECT_NE(r.out.find("tiny-kjv:latest"), std::string::npos);
  r = run_hearth("stop tiny-kjv");
  EXPECT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 100 && !loaded(s).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(loaded(s).empty());
  // With no server there, ps says so; run works standalone.
  s.stop();
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no hearth server"), std::string::npos);
  r = run_hearth("run tiny-kjv 'In the beginning' -n 8 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, ", and the word of the LORD");
  unsetenv("HEARTH_HOST");
}

TEST(Serve, StopsCleanlyOnSigterm) {
  HearthServer s;
  EXPECT_EQ(s.stop(), 0);
}

}  // namespace
}  // namespace hearth::test
