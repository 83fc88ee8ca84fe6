// The web UI's conversations, kept by the server in one SQLite file
// ($HEARTH_HOME/history.db, mode 0600). A conversation is a JSON document
// whose shape this module owns and checks (validate()); the store keeps the
// checked document whole and a summary (title, model, times) beside it for
// the list. Conversations untouched for longer than the retention are
// deleted when the store opens and then every `prune_every`.
//
// Thread-safe: one connection behind a mutex (the UI's traffic is a few
// small writes per answer).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

struct sqlite3;

namespace hearth::history {

using Json = nlohmann::ordered_json;

// Bounds on what a client may store (checked before anything is kept).
inline constexpr size_t kMaxDocumentBytes = 8u << 20;  // a conversation's JSON text
inline constexpr size_t kMaxMessages = 2000;           // per conversation
inline constexpr size_t kMaxTitleBytes = 256;          // title, model
inline constexpr size_t kMaxSystemBytes = 64u << 10;   // system prompt
inline constexpr int64_t kMaxConversations = 10000;    // per store

// A document or id the client got wrong: the message names the field (HTTP 400).
struct InvalidConversation : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A save made against a version that is no longer the stored one (HTTP 412).
struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The store holds kMaxConversations already (HTTP 507).
struct HistoryFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The database cannot be opened or written: the message names the file.
struct HistoryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An id is 8 to 64 characters of [A-Za-z0-9_-] (the page uses a UUID), so
// that it is safe in a path and never collides with a fixed route name.
bool valid_id(std::string_view id);

// Checks a client's conversation document and returns it reduced to the
// fields kept, in a fixed order:
//   {"title": str, "model": str, "system": str,
//    "options": {"temperature"?: num, "top_p"?: num, "num_predict"?: int, "num_ctx"?: int,
//                "seed"?: int},
//    "messages": [{"role": "user"|"assistant", "content": str,
//                  "stopped"?: bool, "cached"?: bool (a replayed answer),
//                  "eval_count"?: int >= 0, "eval_duration"?: int >= 0 (ns)}]}
// Every field but "messages" may be missing (empty). "id", "created_ms" and
// "updated_ms" are accepted and dropped (the server owns them); any other key
// is refused. Throws InvalidConversation.
Json validate(const Json& doc);

// One row of the list; ms since the Unix epoch.
struct Summary {
  std::string id, title, model;
  int64_t created_ms = 0, updated_ms = 0;
  int64_t messages = 0;
};

struct StoreOptions {
  std::chrono::seconds retention{0};       // 0: keep forever
  std::chrono::seconds prune_every{3600};  // 0: only when opened (and prune() calls)
  std::function<int64_t()> now_ms;         // the clock (tests); default: system_clock
};

class Store {
 public:
  // Opens or creates `path` (created 0600; an existing file is set to 0600),
  // creates the table and prunes. Throws HistoryError naming the file.
  Store(const std::string& path, StoreOptions options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Most recently updated first.
  std::vector<Summary> list();
  // The stored document with "id", "created_ms", "updated_ms" added; nullopt if absent.
  std::optional<Json> get(const std::string& id);
  // Creates or replaces; `doc` is validate()d here. Keeps the first created_ms;
  // updated_ms grows with every save (a version: never the same twice).
  // `if_updated_ms`: only if the stored conversation is that version (another
  // tab may have saved it since, or deleted it), else Conflict.
  // Throws InvalidConversation, HistoryFull, Conflict.
  Summary put(const std::string& id, const Json& doc,
              std::optional<int64_t> if_updated_ms = std::nullopt);
  bool remove(const std::string& id);  // false: there was none
  int64_t remove_all();                // how many were deleted
  // Every conversation as get() returns it, most recent first, one at a time
  // (an export never holds them all in memory).
  void for_each(const std::function<void(const Json&)>& f);
  // Deletes those last updated before now - retention; returns how many.
  int64_t prune();

  const StoreOptions& options() const { return o_; }

 private:
  StoreOptions o_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::string path_;
  // The periodic pruner.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread pruner_;

  int64_t now() const;
};

}  // namespace hearth::history
