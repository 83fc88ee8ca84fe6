// API keys: created and revoked by `hearth keys`, checked by the server.
//
// A key is "hk_" and 43 URL-safe base64 characters (32 random bytes). It is
// shown once, at creation; the store ($HEARTH_HOME/keys.db, SQLite, mode
// 0600) keeps only its BLAKE2b-256 hash, keyed with a random per-store salt
// (a slow password hash would cost every request; 256 random bits need no
// stretching). A presented key is hashed and compared with every stored hash
// in constant time (sodium_memcmp), so neither timing nor a name in the
// request tells which key nearly matched.
//
// The server reads the store again whenever the file changes (its size,
// mtime or inode), so `hearth keys revoke` takes effect at the next request.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::auth {

// What a key may do. Admin includes inference.
enum class Scope { Inference, Admin };
std::string_view scope_name(Scope s);                  // "inference", "admin"
std::optional<Scope> parse_scope(std::string_view s);  // nullopt for anything else

struct KeyInfo {
  std::string name;  // [A-Za-z0-9._-]{1,64}, unique in the store
  Scope scope = Scope::Inference;
  int64_t created = 0;  // Unix seconds
  int64_t expires = 0;  // Unix seconds, 0: never
  int64_t revoked = 0;  // Unix seconds, 0: not revoked
  bool active(int64_t now) const { return revoked == 0 && (expires == 0 || now < expires); }
};

// A store refused an operation (bad name, duplicate, unreadable file): the
// message names what and why, never key bytes.
struct KeyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "90d", "12h", "30m", "3600s", "2w" -> seconds; KeyError otherwise (at most 100 years).
std::chrono::seconds parse_ttl(std::string_view text);

class KeyStore {
 public:
  explicit KeyStore(std::string path);  // nothing is opened yet
  const std::string& path() const { return path_; }

  // The CLI's side (each opens the file, creating it 0600 when needed).
  // create() returns the new key's secret, which is not stored.
  std::string create(const std::string& name, Scope scope, std::optional<std::chrono::seconds> ttl);
  std::vector<KeyInfo> list() const;
  void revoke(const std::string& name);  // KeyError when there is no such key

  // The server's side. The key `presented` matches, if any, and is active now.
  std::optional<KeyInfo> verify(std::string_view presented);
  // Whether any key is active now (no keys: the server runs without auth,
  // which only loopback addresses allow).
  bool any_active();

 private:
  struct Loaded {
    std::string salt;                                   // 32 bytes
    std::vector<std::pair<KeyInfo, std::string>> keys;  // with each hash (32 bytes)
  };
  void reload_if_changed();  // with mu_ held

  std::string path_;
  std::mutex mu_;
  Loaded loaded_;
  struct Stamp {
    int64_t mtime_ns = -1, size = -1;
    uint64_t ino = 0;
    bool operator==(const Stamp&) const = default;
  } stamp_;
};

}  // namespace hearth::auth
