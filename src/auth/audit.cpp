#include "auth/audit.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "auth/keys.h"

namespace hearth::auth {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AuditLog::AuditLog(const std::string& path, std::chrono::seconds retention)
    : retention_(retention) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw KeyError("cannot open the audit log " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  ::close(fd);
  auto fail = [&](const char* what) {
    const std::string msg = "audit log " + path + ": " + what + ": " + sqlite3_errmsg(db_);
    sqlite3_close(db_);
    db_ = nullptr;
    throw KeyError(msg);
  };
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    fail("cannot open");
  sqlite3_busy_timeout(db_, 2000);
  // WAL with synchronous=NORMAL: an insert costs no fsync (a crash may lose the last rows).
  if (sqlite3_exec(db_,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE IF NOT EXISTS audit(time_ms INTEGER NOT NULL, key TEXT NOT NULL, "
                   "client TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL, "
                   "model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, "
                   "generated_tokens INTEGER NOT NULL, status INTEGER NOT NULL);"
                   "CREATE INDEX IF NOT EXISTS audit_time ON audit(time_ms);",
                   nullptr, nullptr, nullptr) != SQLITE_OK)
    fail("cannot create its table");
  if (sqlite3_prepare_v2(db_, "INSERT INTO audit VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &insert_,
                         nullptr) != SQLITE_OK)
    fail("cannot prepare");
  for (const char* side : {"-wal", "-shm"}) ::chmod((path + side).c_str(), 0600);
  std::lock_guard lk(mu_);
  prune(now_ms());
}

AuditLog::~AuditLog() {
  sqlite3_finalize(insert_);
  sqlite3_close(db_);
}

void AuditLog::prune(int64_t now) {
  last_prune_ms_ = now;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM audit WHERE time_ms < ?", -1, &s, nullptr) != SQLITE_OK)
    return;
  sqlite3_bind_int64(s, 1, now - retention_.count() * 1000);
  sqlite3_step(s);
  sqlite3_finalize(s);
}

void AuditLog::record(const AuditEntry& e) noexcept {
  std::lock_guard lk(mu_);
  const int64_t now = now_ms();
  if (now - last_prune_ms_ > 3'600'000) prune(now);
  sqlite3_reset(insert_);
  sqlite3_bind_int64(insert_, 1, e.time_ms ? e.time_ms : now);
  const auto text = [&](int i, const std::string& s) {
    sqlite3_bind_text(insert_, i, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  };
  text(2, e.key_name);
  text(3, e.client);
  text(4, e.method);
  text(5, e.route);
  text(6, e.model);
  sqlite3_bind_int64(insert_, 7, e.prompt_tokens);
  sqlite3_bind_int64(insert_, 8, e.generated_tokens);
  sqlite3_bind_int(insert_, 9, e.status);
  if (sqlite3_step(insert_) != SQLITE_DONE)
    std::fprintf(stderr, "hearth: audit log: %s\n", sqlite3_errmsg(db_));
}

int64_t AuditLog::rows() {
  std::lock_guard lk(mu_);
  sqlite3_stmt* s = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM audit", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

}  // namespace hearth::auth
