// The operator's routes: GET /metrics (Prometheus text format, metrics.h) and
// GET /health, which a load balancer (deploy/haproxy.cfg) polls to send
// requests only to nodes that can serve them.
#include <unistd.h>

#include <filesystem>

#include "server/server_impl.h"
#include "sysinfo/sysinfo.h"

namespace hearth::server {

namespace {

// Why this node cannot take a request now, or "" when it can: its store is
// unreadable, or every loaded model's queue is full (a request would get 503).
std::string not_ready(const Server::Impl& srv) {
  const std::string& root = srv.store.root();
  std::error_code ec;
  if (std::filesystem::exists(root, ec) && ::access(root.c_str(), R_OK | X_OK) != 0)
    return "the model store cannot be read";
  const auto loaded = srv.models.status();
  const int64_t max_queue = srv.models.options().max_queue;
  bool all_full = !loaded.empty();
  for (const auto& m : loaded)  // as Scheduler::submit refuses: no free slot, a full queue
    if (m.scheduler.active < m.scheduler.slots || m.scheduler.queued < max_queue) all_full = false;
  if (all_full) return "every loaded model's queue is full";
  return "";
}

}  // namespace

bool Server::Impl::ops(const std::shared_ptr<Exchange>& ex) {
  const auto& req = ex->request();
  if (req.path == "/metrics") {
    if (req.method != "GET" && req.method != "HEAD") throw method_not_allowed("GET, HEAD");
    Metrics::Gauges g;
    for (const auto& s : models.status())
      g.models.push_back(
          {s.name, s.bytes, s.scheduler.slots, s.scheduler.active, s.scheduler.queued});
    g.process = sysinfo::process();
    g.gpus = sysinfo::gpus();
    ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(g));
    return true;
  }
  if (req.path == "/health") {
    if (req.method != "GET" && req.method != "HEAD") throw method_not_allowed("GET, HEAD");
    if (const std::string why = not_ready(*this); !why.empty())
      send_json(*ex, 503,
                {{"status", "unavailable"}, {"reason", why}, {"sandbox", sandboxed.load()}},
                {{"Retry-After", "1"}});
    else
      send_json(*ex, 200, {{"status", "ok"}, {"sandbox", sandboxed.load()}});
    return true;
  }
  return false;
}

}  // namespace hearth::server
