#include "auth/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace hearth::auth {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kHashBytes = 32;
constexpr std::string_view kPrefix = "hk_";

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void init_sodium() {
  if (sodium_init() < 0) throw KeyError("libsodium cannot be initialised");
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

std::string hash_key(std::string_view salt, std::string_view key) {
  std::string out(kHashBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size());
  return out;
}

// One SQLite connection, closed on scope exit.
struct Db {
  sqlite3* db = nullptr;
  std::string path;
  Db(const std::string& p, bool write) : path(p) {
    if (write) {
      // Created 0600 before SQLite opens it (its journal takes the same mode).
      const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) throw KeyError("cannot open the key store " + p + ": " + std::strerror(errno));
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    const int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(p.c_str(), &db, flags | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK)
      fail("cannot open");
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
  [[noreturn]] void fail(const std::string& what) const {
    throw KeyError("key store " + path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "?"));
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail("cannot update");
  }
};

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(Db& d, const char* sql) {
    if (sqlite3_prepare_v2(d.db, sql, -1, &s, nullptr) != SQLITE_OK) d.fail("cannot read");
  }
  ~Stmt() { sqlite3_finalize(s); }
  std::string blob(int col) const {
    const void* p = sqlite3_column_blob(s, col);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(s, col)) : "";
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(s, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
};

void create_schema(Db& d) {
  d.exec(
      "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS keys(name TEXT PRIMARY KEY, hash BLOB NOT NULL, "
      "scope TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL, "
      "revoked INTEGER NOT NULL DEFAULT 0);");
}

// A file created by a `keys create` that failed early may have no tables.
bool has_keys_table(Db& d) {
  Stmt s(d, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('keys', 'meta')");
  int n = 0;
  while (sqlite3_step(s.s) == SQLITE_ROW) ++n;
  return n == 2;
}

std::string read_salt(Db& d) {
  Stmt s(d, "SELECT v FROM meta WHERE k = 'salt'");
  if (sqlite3_step(s.s) == SQLITE_ROW) return s.blob(0);
  return "";
}

KeyInfo row_info(const Stmt& s) {  // name, scope, created, expires, revoked
  KeyInfo k;
  k.name = s.text(0);
  k.scope = parse_scope(s.text(1)).value_or(Scope::Inference);
  k.created = sqlite3_column_int64(s.s, 2);
  k.expires = sqlite3_column_int64(s.s, 3);
  k.revoked = sqlite3_column_int64(s.s, 4);
  return k;
}

}  // namespace

std::string_view scope_name(Scope s) { return s == Scope::Admin ? "admin" : "inference"; }

std::optional<Scope> parse_scope(std::string_view s) {
  if (s == "inference") return Scope::Inference;
  if (s == "admin") return Scope::Admin;
  return std::nullopt;
}

std::chrono::seconds parse_ttl(std::string_view text) {
  const auto fail = [&] {
    return KeyError("expiry '" + std::string(text) +
                    "' is not a duration such as 90d, 12h, 30m, 2w (at most 100 years)");
  };
  if (text.size() < 2 || text.size() > 12) throw fail();
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') throw fail();
    n = n * 10 + (c - '0');
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      throw fail();
  }
  if (n <= 0 || n > 100LL * 366 * 86400 / unit) throw fail();
  return std::chrono::seconds(n * unit);
}

KeyStore::KeyStore(std::string path) : path_(std::move(path)) {}

std::string KeyStore::create(const std::string& name, Scope scope,
                             std::optional<std::chrono::seconds> ttl) {
  init_sodium();
  if (!valid_name(name))
    throw KeyError("key name '" + name + "' must be 1-64 letters, digits, '.', '_' or '-'");
  Db d(path_, true);
  d.exec("BEGIN IMMEDIATE");
  create_schema(d);
  std::string salt = read_salt(d);
  if (salt.size() != kHashBytes) {
    salt.assign(kHashBytes, '\0');
    randombytes_buf(salt.data(), salt.size());
    Stmt s(d, "INSERT OR REPLACE INTO meta(k, v) VALUES('salt', ?)");
    sqlite3_bind_blob(s.s, 1, salt.data(), static_cast<int>(salt.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(s.s) != SQLITE_DONE) d.fail("cannot update");
  }
  unsigned char raw[kSecretBytes];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(kSecretBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  const std::string secret = std::string(kPrefix) + b64;
  sodium_memzero(b64, sizeof b64);
  const std::string h = hash_key(salt, secret);
  const int64_t now = now_s();
  {
    Stmt s(d,
           "INSERT INTO keys(name, hash, scope, created, expires, revoked) "
           "VALUES(?, ?, ?, ?, ?, 0)");
    sqlite3_bind_text(s.s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s.s, 2, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s.s, 3, std::string(scope_name(scope)).c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.s, 4, now);
    sqlite3_bind_int64(s.s, 5, ttl ? now + ttl->count() : 0);
    const int rc = sqlite3_step(s.s);
    if (rc == SQLITE_CONSTRAINT) {
      d.exec("ROLLBACK");
      // Revoked and expired keys keep their names, so that the audit log's
      // entries name one key each.
      throw KeyError("a key named '" + name +
                     "' exists already (names are never reused, also after a revoke or expiry: "
                     "pick another name)");
    }
    if (rc != SQLITE_DONE) d.fail("cannot update");
  }
  d.exec("COMMIT");
  return secret;
}

std::vector<KeyInfo> KeyStore::list() const {
  std::vector<KeyInfo> out;
  if (::access(path_.c_str(), F_OK) != 0) return out;
  Db d(path_, false);
  if (!has_keys_table(d)) return out;
  Stmt s(d, "SELECT name, scope, created, expires, revoked FROM keys ORDER BY created, name");
  while (sqlite3_step(s.s) == SQLITE_ROW) out.push_back(row_info(s));
  return out;
}

void KeyStore::revoke(const std::string& name) {
  if (::access(path_.c_str(), F_OK) != 0) throw KeyError("no key named '" + name + "'");
  Db d(path_, true);
  if (!has_keys_table(d)) throw KeyError("no active key named '" + name + "'");
  Stmt s(d, "UPDATE keys SET revoked = ? WHERE name = ? AND revoked = 0");
  sqlite3_bind_int64(s.s, 1, now_s());
  sqlite3_bind_text(s.s, 2, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(s.s) != SQLITE_DONE) d.fail("cannot update");
  if (sqlite3_changes(d.db) == 0) throw KeyError("no active key named '" + name + "'");
}

void KeyStore::reload_if_changed() {
  Stamp now;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0)
    now = {int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, int64_t(st.st_size),
           uint64_t(st.st_ino)};
  if (now == stamp_) return;
  Loaded fresh;
  if (now.size >= 0) {
    Db d(path_, false);
    if (has_keys_table(d)) {
      fresh.salt = read_salt(d);
      Stmt s(d, "SELECT name, scope, created, expires, revoked, hash FROM keys");
      while (sqlite3_step(s.s) == SQLITE_ROW) fresh.keys.emplace_back(row_info(s), s.blob(5));
    }
  }
  loaded_ = std::move(fresh);
  stamp_ = now;
}

std::optional<KeyInfo> KeyStore::verify(std::string_view presented) {
  init_sodium();
  std::lock_guard lk(mu_);
  reload_if_changed();
  if (loaded_.salt.size() != kHashBytes) return std::nullopt;
  const std::string h = hash_key(loaded_.salt, presented);
  std::optional<KeyInfo> found;
  for (const auto& [info, stored] : loaded_.keys)  // all of them, whatever matches
    if (stored.size() == kHashBytes && sodium_memcmp(stored.data(), h.data(), kHashBytes) == 0)
      found = info;
  if (found && !found->active(now_s())) return std::nullopt;
  return found;
}

bool KeyStore::any_active() {
  std::lock_guard lk(mu_);
  reload_if_changed();
  const int64_t now = now_s();
  for (const auto& k : loaded_.keys)
    if (k.first.active(now)) return true;
  return false;
}

}  // namespace hearth::auth
