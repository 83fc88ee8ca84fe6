#include "history/history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace hearth::history {
namespace {

using ::testing::HasSubstr;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hearth-history-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string db() const { return (dir_ / "history.db").string(); }
  StoreOptions opts(std::chrono::seconds retention = std::chrono::seconds(0)) {
    StoreOptions o;
    o.retention = retention;
    o.prune_every = std::chrono::seconds(0);
    o.now_ms = [this] { return clock_.load(); };
    return o;
  }
  static Json conversation(const std::string& title, int n_messages = 2) {
    Json doc = {{"title", title},
                {"model", "tiny-kjv:latest"},
                {"system", "be brief"},
                {"options", {{"temperature", 0.5}, {"num_predict", 64}, {"seed", 7}}}};
    doc["messages"] = Json::array();
    for (int i = 0; i < n_messages; ++i)
      doc["messages"].push_back(
          {{"role", i % 2 ? "assistant" : "user"}, {"content", std::to_string(i)}});
    return doc;
  }
  std::string error_of(const Json& doc) {
    try {
      validate(doc);
    } catch (const InvalidConversation& e) {
      return e.what();
    }
    return "";
  }
  std::filesystem::path dir_;
  std::atomic<int64_t> clock_{1'000'000};
};

TEST_F(HistoryTest, IdsAreBoundedAndPathSafe) {
  EXPECT_TRUE(valid_id("0b6a4c1e-2f3d-4a5b-9c8d-7e6f5a4b3c2d"));
  EXPECT_TRUE(valid_id("abcdEFGH_1"));
  EXPECT_FALSE(valid_id("export"));  // shorter than 8: never a fixed route's name
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id("../../etc/passwd"));
  EXPECT_FALSE(valid_id("abcdefgh/"));
  EXPECT_FALSE(valid_id(std::string(65, 'a')));
  EXPECT_TRUE(valid_id(std::string(64, 'a')));
}

TEST_F(HistoryTest, ValidateKeepsKnownFieldsAndDropsServerOwnedOnes) {
  Json doc = conversation("t");
  doc["id"] = "whatever1";
  doc["created_ms"] = 5;
  doc["messages"][1]["eval_count"] = 12;
  doc["messages"][1]["eval_duration"] = 3'000'000;
  doc["messages"][1]["stopped"] = true;
  doc["messages"][1]["cached"] = true;
  const Json kept = validate(doc);
  EXPECT_FALSE(kept.contains("id"));
  EXPECT_FALSE(kept.contains("created_ms"));
  EXPECT_EQ(kept["title"], "t");
  EXPECT_EQ(kept["options"]["num_predict"], 64);
  EXPECT_EQ(kept["options"]["seed"], 7);
  EXPECT_EQ(kept["messages"][1]["eval_count"], 12);
  EXPECT_EQ(kept["messages"][1]["stopped"], true);
  EXPECT_EQ(kept["messages"][1]["cached"], true);
  // Everything missing is empty, not an error.
  const Json empty = validate(Json::object());
  EXPECT_EQ(empty["title"], "");
  EXPECT_TRUE(empty["messages"].empty());
}

TEST_F(HistoryTest, ValidateRefusesWrongShapes) {
  EXPECT_THAT(error_of(Json::array()), HasSubstr("JSON object"));
  EXPECT_THAT(error_of({{"script", "x"}}), HasSubstr("script is not a known field"));
  EXPECT_THAT(error_of({{"title", 3}}), HasSubstr("title must be a string"));
  EXPECT_THAT(error_of({{"title", std::string(kMaxTitleBytes + 1, 'x')}}),
              HasSubstr("at most 256"));
  EXPECT_THAT(error_of({{"system", std::string(kMaxSystemBytes + 1, 'x')}}),
              HasSubstr("system is"));
  EXPECT_THAT(error_of({{"options", {{"temperature", "hot"}}}}),
              HasSubstr("options.temperature must be a number"));
  EXPECT_THAT(error_of({{"options", {{"num_ctx", 1.5}}}}), HasSubstr("whole number"));
  EXPECT_THAT(error_of({{"options", {{"mirostat", 1}}}}), HasSubstr("not a known option"));
  EXPECT_THAT(error_of({{"messages", {{{"role", "system"}, {"content", "x"}}}}}),
              HasSubstr("messages[0].role"));
  EXPECT_THAT(error_of({{"messages", {{{"role", "user"}}}}}), HasSubstr("messages[0].content"));
  EXPECT_THAT(error_of({{"messages", {{{"role", "user"}, {"content", "x"}, {"html", "<b>"}}}}}),
              HasSubstr("messages[0].html is not a known field"));
  EXPECT_THAT(error_of({{"messages", {{{"role", "user"}, {"content", "x"}, {"eval_count", -1}}}}}),
              HasSubstr(">= 0"));
  Json many = Json::object();
  many["messages"] = Json::array();
  for (size_t i = 0; i <= kMaxMessages; ++i) many["messages"].push_back(1);
  EXPECT_THAT(error_of(many), HasSubstr("at most 2000"));  // before looking at any entry
}

TEST_F(HistoryTest, SaveListGetDeleteAndKeepTheFileToTheOwner) {
  Store s(db(), opts());
  struct stat st {};
  ASSERT_EQ(::stat(db().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_TRUE(s.list().empty());
  const auto a = s.put("conversation-a", conversation("first"));
  EXPECT_EQ(a.created_ms, 1'000'000);
  EXPECT_EQ(a.messages, 2);
  clock_ = 2'000'000;
  s.put("conversation-b", conversation("second", 3));
  clock_ = 3'000'000;
  const auto a2 = s.put("conversation-a", conversation("first, renamed", 4));
  EXPECT_EQ(a2.created_ms, 1'000'000);  // kept from the first save
  EXPECT_EQ(a2.updated_ms, 3'000'000);

  const auto rows = s.list();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "conversation-a");  // most recently updated first
  EXPECT_EQ(rows[0].title, "first, renamed");
  EXPECT_EQ(rows[0].messages, 4);
  EXPECT_EQ(rows[1].id, "conversation-b");

  const auto doc = s.get("conversation-a");
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc)["id"], "conversation-a");
  EXPECT_EQ((*doc)["created_ms"], 1'000'000);
  EXPECT_EQ((*doc)["messages"].size(), 4u);
  EXPECT_EQ((*doc)["system"], "be brief");
  EXPECT_FALSE(s.get("conversation-c"));

  std::vector<std::string> exported;
  s.for_each([&](const Json& d) { exported.push_back(d["id"]); });
  EXPECT_EQ(exported, (std::vector<std::string>{"conversation-a", "conversation-b"}));

  EXPECT_TRUE(s.remove("conversation-b"));
  EXPECT_FALSE(s.remove("conversation-b"));
  EXPECT_EQ(s.list().size(), 1u);
  EXPECT_EQ(s.remove_all(), 1);
  EXPECT_TRUE(s.list().empty());
}

TEST_F(HistoryTest, ASaveAgainstAnOlderVersionIsAConflict) {
  // Two tabs read version v; the first saves (v2), the second's save of v
  // would drop the first's turn: refused. Versions never repeat, even within
  // one millisecond.
  Store s(db(), opts());
  const auto v = s.put("conversation-a", conversation("first")).updated_ms;
  const auto v2 = s.put("conversation-a", conversation("first", 4), v).updated_ms;
  EXPECT_GT(v2, v);  // the same clock reading: still a new version
  EXPECT_THROW(s.put("conversation-a", conversation("first", 4), v), Conflict);
  EXPECT_EQ((*s.get("conversation-a"))["messages"].size(), 4u);
  EXPECT_EQ(s.put("conversation-a", conversation("first", 6), v2).messages, 6);
  // Deleted elsewhere: a save of a version is refused; a plain save creates.
  ASSERT_TRUE(s.remove("conversation-a"));
  EXPECT_THROW(s.put("conversation-a", conversation("first"), v2), Conflict);
  EXPECT_FALSE(s.get("conversation-a"));
  EXPECT_EQ(s.put("conversation-a", conversation("first")).messages, 2);
}

TEST_F(HistoryTest, ConversationsSurviveReopening) {
  {
    Store s(db(), opts());
    s.put("persisted1", conversation("kept"));
  }
  Store s(db(), opts());
  ASSERT_EQ(s.list().size(), 1u);
  EXPECT_EQ((*s.get("persisted1"))["title"], "kept");
}

TEST_F(HistoryTest, AnExistingFileIsNarrowedToTheOwner) {
  std::filesystem::create_directories(dir_);
  { std::ofstream f(db()); }
  ::chmod(db().c_str(), 0644);
  Store s(db(), opts());
  struct stat st {};
  ASSERT_EQ(::stat(db().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HistoryTest, PutRefusesBadIdsAndMismatchedBodies) {
  Store s(db(), opts());
  EXPECT_THROW(s.put("../x/../y", conversation("t")), InvalidConversation);
  EXPECT_THROW(s.get("short"), InvalidConversation);
  EXPECT_THROW(s.remove("a b c d e f"), InvalidConversation);
  Json doc = conversation("t");
  doc["id"] = "another-id";
  EXPECT_THROW(s.put("conversation-a", doc), InvalidConversation);
  EXPECT_TRUE(s.list().empty());
}

TEST_F(HistoryTest, RetentionDeletesOldConversationsAtOpenAndOnPrune) {
  const auto day = std::chrono::seconds(86400);
  {
    Store s(db(), opts());
    s.put("old-conversation", conversation("old"));
    clock_ += 20 * 86'400'000LL;
    s.put("new-conversation", conversation("new"));
  }
  clock_ += 15 * 86'400'000LL;  // old: 35 days, new: 15 days
  Store s(db(), opts(30 * day));
  auto rows = s.list();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, "new-conversation");
  clock_ += 16 * 86'400'000LL;
  EXPECT_EQ(s.prune(), 1);
  EXPECT_TRUE(s.list().empty());
}

TEST_F(HistoryTest, PeriodicPruningRunsOnItsOwn) {
  auto o = opts(std::chrono::seconds(1));
  o.prune_every = std::chrono::seconds(1);
  Store s(db(), o);
  s.put("short-lived", conversation("x"));
  clock_ += 5000;
  for (int i = 0; i < 50 && !s.list().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(s.list().empty());
}

TEST_F(HistoryTest, AFolderInPlaceOfTheFileIsAnError) {
  std::filesystem::create_directories(db());
  try {
    Store s(db(), opts());
    FAIL() << "opened a folder";
  } catch (const HistoryError& e) {
    EXPECT_THAT(e.what(), HasSubstr("history.db"));
  }
}

}  // namespace
}  // namespace hearth::history
