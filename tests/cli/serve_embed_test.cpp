// `hearth serve`'s embedding routes, Ollama's /api/embed and the legacy
// /api/embeddings: a real server on a loopback port, the bundled tiny-kjv.
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <string>
#include <vector>

#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

using nlohmann::json;

constexpr size_t kEmbd = 192;  // tiny-kjv's embedding length

HearthServer& shared() {
  static HearthServer s;
  return s;
}

double dot(const json& a, const json& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i].get<double>() * b[i].get<double>();
  return s;
}

bool contains(const json& error, const std::string& what) {
  return error.is_string() && error.get<std::string>().find(what) != std::string::npos;
}

TEST(ServeEmbed, OneInput) {
  auto& s = shared();
  auto r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", "In the beginning"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j["model"], "tiny-kjv");  // as the request named it
  ASSERT_EQ(j["embeddings"].size(), 1u);
  const auto& e = j["embeddings"][0];
  ASSERT_EQ(e.size(), kEmbd);
  EXPECT_NEAR(dot(e, e), 1.0, 1e-5);
  EXPECT_EQ(j["prompt_eval_count"], 4);  // BOS + "In the beginning"
  EXPECT_TRUE(j["total_duration"].is_number_integer());
  EXPECT_TRUE(j["load_duration"].is_number_integer());
}

TEST(ServeEmbed, SeveralInputsInOrder) {
  auto& s = shared();
  const std::string a = "The LORD is my shepherd; I shall not want.", b = "Jesus wept.";
  auto r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", json::array({a, b, a})}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  ASSERT_EQ(j["embeddings"].size(), 3u);
  EXPECT_EQ(j["embeddings"][0], j["embeddings"][2]);
  EXPECT_NE(j["embeddings"][0], j["embeddings"][1]);
  // Each input's vector is the one it gets alone.
  auto one = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", b}}).json();
  EXPECT_EQ(one["embeddings"][0], j["embeddings"][1]);
  auto ones = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", json::array({a})}}).json();
  EXPECT_EQ(j["prompt_eval_count"],
            2 * ones["prompt_eval_count"].get<int>() + one["prompt_eval_count"].get<int>());
}

TEST(ServeEmbed, DimensionsKeepTheFirstNRenormalised) {
  auto& s = shared();
  const json full = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", "Blessed are the meek"}})
                        .json()["embeddings"][0];
  auto r = s.post("/api/embed",
                  {{"model", "tiny-kjv"}, {"input", "Blessed are the meek"}, {"dimensions", 16}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto e = r.json()["embeddings"][0];
  ASSERT_EQ(e.size(), 16u);
  EXPECT_NEAR(dot(e, e), 1.0, 1e-5);
  double norm = 0;
  for (size_t i = 0; i < 16; ++i) norm += std::pow(full[i].get<double>(), 2);
  for (size_t i = 0; i < 16; ++i)
    EXPECT_NEAR(e[i].get<double>(), full[i].get<double>() / std::sqrt(norm), 1e-5) << i;

  // More than the model has: the whole vector, as Ollama answers a client that
  // sends one value to models of several sizes (it was a 400).
  r = s.post("/api/embed",
             {{"model", "tiny-kjv"}, {"input", "Blessed are the meek"}, {"dimensions", 1024}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["embeddings"][0], full);
  r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", "x"}, {"dimensions", "many"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.json()["error"], "dimensions")) << r.body;
}

TEST(ServeEmbed, LongInputsAreTruncatedUnlessTruncateIsFalse) {
  HearthServer s("--ctx 32");  // the context an input is truncated to: the loaded model's
  std::string verse;
  for (int i = 0; i < 5; ++i) verse += "And God said, Let there be light: and there was light. ";
  auto r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", verse}, {"truncate", false}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.json()["error"], "the input length exceeds the context length")) << r.body;
  r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", verse}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["prompt_eval_count"], 32);
  EXPECT_EQ(r.json()["embeddings"][0].size(), kEmbd);
}

TEST(ServeEmbed, Errors) {
  auto& s = shared();
  for (const char* route : {"/api/embed", "/api/embeddings"}) {
    auto r = s.post(route, {{"model", "no-such-model"}, {"input", "x"}, {"prompt", "x"}});
    EXPECT_EQ(r.status, 404) << route;
    EXPECT_EQ(r.json()["error"], "model \"no-such-model\" not found") << route;
    r = s.post(route, {{"input", "x"}});
    EXPECT_EQ(r.status, 400) << route;
    EXPECT_TRUE(contains(r.json()["error"], "model")) << r.body;
    EXPECT_EQ(s.get(route).status, 405) << route;
  }
  auto r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", 7}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.json()["error"], "input")) << r.body;
  r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", json::array({"x", 7})}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.json()["error"], "input[1]")) << r.body;
}

TEST(ServeEmbed, LegacyEmbeddings) {
  auto& s = shared();
  auto r = s.post("/api/embeddings", {{"model", "tiny-kjv"}, {"prompt", "Jesus wept."}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto e = r.json()["embedding"];
  ASSERT_EQ(e.size(), kEmbd);
  const auto e2 = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", "Jesus wept."}})
                      .json()["embeddings"][0];
  for (size_t i = 0; i < kEmbd; ++i)
    EXPECT_NEAR(e[i].get<double>(), e2[i].get<double>(), 1e-6) << i;
  r = s.post("/api/embeddings", {{"model", "tiny-kjv"}, {"prompt", ""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), json({{"embedding", json::array()}}));
}

TEST(ServeEmbed, EmbeddingsBesideAGenerationChangeNeither) {
  HearthServer s("--response-cache 0");  // the second generation must run, not replay
  const json embed = {{"model", "tiny-kjv"}, {"input", "Jesus wept."}};
  const json generate = {{"model", "tiny-kjv"},
                         {"prompt", "In the beginning"},
                         {"raw", true},
                         {"stream", false},
                         {"options", {{"temperature", 0}, {"num_predict", 24}}}};
  const json embedding = s.post("/api/embed", embed).json()["embeddings"];
  const json text = s.post("/api/generate", generate).json()["response"];
  auto gen = std::async(std::launch::async, [&] { return s.post("/api/generate", generate); });
  for (int i = 0; i < 5; ++i) {
    auto r = s.post("/api/embed", embed);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["embeddings"], embedding);
  }
  const auto g = gen.get();
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.json()["response"], text);
}

TEST(ServeEmbed, NoInputLoadsTheModelWhichPsShows) {
  HearthServer s;
  EXPECT_TRUE(s.get("/api/ps").json()["models"].empty());
  auto r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", json::array()}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), json({{"model", "tiny-kjv"}, {"embeddings", json::array()}}));
  auto ps = s.get("/api/ps").json();
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["name"], "tiny-kjv:latest");
  // An embedding keeps it loaded; keep_alive 0 unloads it after the request.
  r = s.post("/api/embed", {{"model", "tiny-kjv"}, {"input", "Amen."}, {"keep_alive", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = s.get("/api/ps").json()["models"].empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace hearth::test
