#include "history/history.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace hearth::history {

namespace {

[[noreturn]] void invalid(const std::string& what) { throw InvalidConversation(what); }

const std::string& string_field(const Json& doc, const char* key, size_t max_bytes,
                                const std::string& where) {
  static const std::string empty;
  const auto it = doc.find(key);
  if (it == doc.end()) return empty;
  if (!it->is_string()) invalid(where + key + " must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    invalid(where + key + " is " + std::to_string(s.size()) + " bytes, at most " +
            std::to_string(max_bytes) + " allowed");
  return s;
}

Json options_field(const Json& doc) {
  Json out = Json::object();
  const auto it = doc.find("options");
  if (it == doc.end()) return out;
  if (!it->is_object()) invalid("options must be an object");
  for (const auto& [key, v] : it->items()) {
    if (key == "temperature" || key == "top_p") {
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        invalid("options." + key + " must be a number");
      out[key] = v.get<double>();
    } else if (key == "num_predict" || key == "num_ctx" || key == "seed") {
      if (!v.is_number_integer()) invalid("options." + key + " must be a whole number");
      out[key] = v.get<int64_t>();
    } else {
      invalid("options." + key +
              " is not a known option (temperature, top_p, num_predict, num_ctx, seed)");
    }
  }
  return out;
}

Json message_field(const Json& m, size_t i) {
  const std::string where = "messages[" + std::to_string(i) + "].";
  if (!m.is_object()) invalid("messages[" + std::to_string(i) + "] must be an object");
  Json out = Json::object();
  const auto role = m.find("role");
  if (role == m.end() || !role->is_string() || (*role != "user" && *role != "assistant"))
    invalid(where + "role must be \"user\" or \"assistant\"");
  out["role"] = *role;
  const auto content = m.find("content");
  if (content == m.end() || !content->is_string()) invalid(where + "content must be a string");
  out["content"] = *content;
  for (const auto& [key, v] : m.items()) {
    if (key == "role" || key == "content") continue;
    if (key == "stopped" || key == "cached") {
      if (!v.is_boolean()) invalid(where + key + " must be true or false");
      out[key] = v.get<bool>();
    } else if (key == "eval_count" || key == "eval_duration") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0)
        invalid(where + key + " must be a whole number >= 0");
      out[key] = v.get<int64_t>();
    } else {
      invalid(where + key + " is not a known field");
    }
  }
  return out;
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
  }
  [[noreturn]] void fail(const char* what) {
    throw HistoryError("history database '" + path_ + "': " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  const std::string& path_;
};

Json with_meta(Json doc, const std::string& id, int64_t created, int64_t updated) {
  Json out = Json::object();
  out["id"] = id;
  out["created_ms"] = created;
  out["updated_ms"] = updated;
  for (auto& [k, v] : doc.items()) out[k] = std::move(v);
  return out;
}

}  // namespace

bool valid_id(std::string_view id) {
  if (id.size() < 8 || id.size() > 64) return false;
  for (const char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}

Json validate(const Json& doc) {
  if (!doc.is_object()) invalid("a conversation must be a JSON object");
  for (const auto& [key, v] : doc.items()) {
    static const char* known[] = {"id",    "created_ms", "updated_ms", "title",
                                  "model", "system",     "options",    "messages"};
    if (std::find(std::begin(known), std::end(known), key) == std::end(known))
      invalid(key + " is not a known field of a conversation");
  }
  Json out = Json::object();
  out["title"] = string_field(doc, "title", kMaxTitleBytes, "");
  out["model"] = string_field(doc, "model", kMaxTitleBytes, "");
  out["system"] = string_field(doc, "system", kMaxSystemBytes, "");
  out["options"] = options_field(doc);
  Json messages = Json::array();
  if (const auto it = doc.find("messages"); it != doc.end()) {
    if (!it->is_array()) invalid("messages must be an array");
    if (it->size() > kMaxMessages)
      invalid("messages has " + std::to_string(it->size()) + " entries, at most " +
              std::to_string(kMaxMessages) + " allowed");
    for (size_t i = 0; i < it->size(); ++i) messages.push_back(message_field((*it)[i], i));
  }
  out["messages"] = std::move(messages);
  return out;
}

Store::Store(const std::string& path, StoreOptions options) : o_(std::move(options)), path_(path) {
  if (!o_.now_ms)
    o_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  const auto fail = [&](const std::string& why) -> HistoryError {
    return HistoryError("history database '" + path + "': " + why);
  };
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) throw fail("cannot create its folder: " + ec.message());
  // Created (or narrowed) to the owner alone before SQLite opens it: the
  // journal SQLite creates beside it takes the same mode.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw fail(std::strerror(errno));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const bool narrowed = regular && ((st.st_mode & 0777) == 0600 || ::fchmod(fd, 0600) == 0);
  const int err = errno;
  ::close(fd);
  if (!regular) throw fail("not a regular file");
  if (!narrowed) throw fail(std::string("cannot set mode 0600: ") + std::strerror(err));

  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw fail(why);
  }
  sqlite3_busy_timeout(db_, 5000);
  // secure_delete: a deleted conversation's bytes are overwritten, not left in free pages.
  const char* schema =
      "PRAGMA secure_delete = ON;"
      "CREATE TABLE IF NOT EXISTS conversations ("
      " id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL,"
      " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
      " messages INTEGER NOT NULL, doc TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_ms);";
  char* msg = nullptr;
  if (sqlite3_exec(db_, schema, nullptr, nullptr, &msg) != SQLITE_OK) {
    const std::string why = msg ? msg : "cannot create the table";
    sqlite3_free(msg);
    sqlite3_close(db_);
    throw fail(why);
  }
  prune();
  if (o_.retention.count() > 0 && o_.prune_every.count() > 0)
    pruner_ = std::thread([this] {
      std::unique_lock lock(stop_mu_);
      while (!stop_cv_.wait_for(lock, o_.prune_every, [this] { return stopping_; })) {
        lock.unlock();
        try {
          prune();
        } catch (const std::exception&) {
          // A busy or full disk: the next round tries again.
        }
        lock.lock();
      }
    });
}

Store::~Store() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (pruner_.joinable()) pruner_.join();
  sqlite3_close(db_);
}

int64_t Store::now() const { return o_.now_ms(); }

std::vector<Summary> Store::list() {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id, title, model, created_ms, updated_ms, messages FROM conversations "
         "ORDER BY updated_ms DESC, id",
         path_);
  std::vector<Summary> out;
  while (s.step())
    out.push_back({s.text(0), s.text(1), s.text(2), s.integer(3), s.integer(4), s.integer(5)});
  return out;
}

std::optional<Json> Store::get(const std::string& id) {
  if (!valid_id(id)) invalid("invalid conversation id");
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT doc, created_ms, updated_ms FROM conversations WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return with_meta(Json::parse(s.text(0)), id, s.integer(1), s.integer(2));
}

Summary Store::put(const std::string& id, const Json& doc, std::optional<int64_t> if_updated_ms) {
  if (!valid_id(id)) invalid("invalid conversation id");
  if (const auto it = doc.find("id"); doc.is_object() && it != doc.end() && *it != id)
    invalid("id in the body differs from the id in the path");
  const Json kept = validate(doc);
  const std::string text = kept.dump();
  if (text.size() > kMaxDocumentBytes)
    invalid("the conversation is " + std::to_string(text.size()) + " bytes, at most " +
            std::to_string(kMaxDocumentBytes) + " allowed");
  Summary sum{id,
              kept["title"].get<std::string>(),
              kept["model"].get<std::string>(),
              now(),
              now(),
              static_cast<int64_t>(kept["messages"].size())};
  std::lock_guard lock(mu_);
  Stmt exists(db_, "SELECT created_ms, updated_ms FROM conversations WHERE id = ?", path_);
  exists.bind(1, id);
  const bool found = exists.step();
  if (if_updated_ms && (!found || exists.integer(1) != *if_updated_ms))
    throw Conflict(found ? "the conversation was saved elsewhere since (now version " +
                               std::to_string(exists.integer(1)) + ")"
                         : "the conversation was deleted elsewhere");
  if (found) {
    sum.created_ms = exists.integer(0);
    sum.updated_ms = std::max(sum.updated_ms, exists.integer(1) + 1);
  } else {
    Stmt count(db_, "SELECT COUNT(*) FROM conversations", path_);
    count.step();
    if (count.integer(0) >= kMaxConversations)
      throw HistoryFull("the history holds " + std::to_string(kMaxConversations) +
                        " conversations already: delete some first");
  }
  Stmt s(db_,
         "INSERT INTO conversations (id, title, model, created_ms, updated_ms, messages, doc) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET title = ?2, "
         "model = ?3, updated_ms = ?5, messages = ?6, doc = ?7",
         path_);
  s.bind(1, id).bind(2, sum.title).bind(3, sum.model).bind(4, sum.created_ms);
  s.bind(5, sum.updated_ms).bind(6, sum.messages).bind(7, text);
  s.step();
  return sum;
}

bool Store::remove(const std::string& id) {
  if (!valid_id(id)) invalid("invalid conversation id");
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM conversations WHERE id = ?", path_);
  s.bind(1, id).step();
  return sqlite3_changes(db_) > 0;
}

int64_t Store::remove_all() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM conversations", path_);
  s.step();
  return sqlite3_changes(db_);
}

void Store::for_each(const std::function<void(const Json&)>& f) {
  // The ids first, then one document at a time: `f` (a network write) runs
  // without the lock, and memory holds one conversation.
  std::vector<std::string> ids;
  for (const auto& s : list()) ids.push_back(s.id);
  for (const auto& id : ids)
    if (auto doc = get(id)) f(*doc);
}

int64_t Store::prune() {
  if (o_.retention.count() <= 0) return 0;
  const int64_t cutoff =
      now() - std::chrono::duration_cast<std::chrono::milliseconds>(o_.retention).count();
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM conversations WHERE updated_ms < ?", path_);
  s.bind(1, cutoff).step();
  return sqlite3_changes(db_);
}

}  // namespace hearth::history
