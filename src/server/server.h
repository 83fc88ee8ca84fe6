// `hearth serve`: the HTTP server, its model manager and its model store,
// and the routes of every API. The engine does the work; this module knows
// HTTP and the wire types (one file per API: ollama_types.h, ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/models.h"
#include "server/guard.h"
#include "server/http.h"

namespace hearth::server {

struct ServerOptions {
  HttpOptions http;
  engine::ModelManagerOptions models;
  std::string home;                             // $HEARTH_HOME: the store lives under it
  uint64_t response_cache_bytes = 64ull << 20;  // 0: no response cache
  engine::KeepAlive default_keep_alive;         // 5 minutes
  int64_t default_num_ctx = 0;                  // 0: the model's, at most 4096
  GuardOptions guard;                           // Host, origins, keys, rate limits (guard.h)
  // A second listener on 127.0.0.1 serving only GET /metrics and GET /health
  // (no key needed there: loopback only); 0 picks a free port.
  std::optional<uint16_t> metrics_port;
  // The web UI's conversations in $HEARTH_HOME/history.db (off: the page keeps them).
  bool history = true;
  std::chrono::seconds history_retention{30 * 86400};  // 0: kept until deleted
  std::string audit_log;                               // SQLite audit log (auth/audit.h); "" none
  std::chrono::seconds audit_retention{30 * 86400};
  // The model's turn markers in users' text: refused with a 400 (true) or
  // neutralised (engine::MarkerPolicy).
  bool strict_input = false;
  // Prompts and replies in the log (off: never; only sizes, models, statuses).
  bool log_content = false;
};

class Server {
 public:
  explicit Server(ServerOptions options);  // binds; throws naming the address
  ~Server();
  uint16_t port() const;
  // The metrics listener's bound port, 0 without one.
  uint16_t metrics_port() const;
  void run();   // until stop()
  void stop();  // thread-safe
  // The process has confined itself (sandbox.h); /health says so.
  void set_sandboxed(bool on);

  struct Impl;  // server_impl.h

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::server
