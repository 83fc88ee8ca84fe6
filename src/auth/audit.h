// The audit log: one row per answered request in SQLite ($HEARTH_HOME/audit.db,
// mode 0600): when, which key, from where, what route and model, how many
// tokens, what status. Never a prompt, an answer or a key. Rows older than
// the retention are deleted (at open, then at most hourly).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace hearth::auth {

struct AuditEntry {
  int64_t time_ms = 0;        // Unix milliseconds; 0: now
  std::string key_name;       // "" without a key
  std::string client;         // peer address
  std::string method, route;  // the normalised path, no query
  std::string model;          // "" when the route names none
  int64_t prompt_tokens = 0, generated_tokens = 0;
  int status = 0;
};

class AuditLog {
 public:
  // Opens (creating) the log; throws KeyError (keys.h) when it cannot.
  AuditLog(const std::string& path, std::chrono::seconds retention);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void record(const AuditEntry& e) noexcept;  // thread-safe; a failed write is logged, not thrown
  int64_t rows();                             // for tests

 private:
  void prune(int64_t now_ms);  // with mu_ held

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::chrono::seconds retention_;
  int64_t last_prune_ms_ = 0;
};

}  // namespace hearth::auth
