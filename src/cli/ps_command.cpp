// `hearth ps` and `hearth stop MODEL`: the models a running server holds, and
// unloading one. Both need a server (they describe its memory).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "cli/client.h"
#include "cli/commands.h"

namespace hearth::cli {

namespace {

ServerAddress require_server() {
  const auto a = server_address();
  if (!server_answers(a, 1000)) {
    throw std::runtime_error(fmt::format(
        "no hearth server answers at {}:{} (start one with `hearth serve`, or set HEARTH_HOST)",
        a.host, a.port));
  }
  return a;
}

std::string decimal_size(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) b /= 1000, ++u;
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

void add_ps(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("ps", "List the models a running server has loaded");
  cmd->add_flag("--json", *json, "Print the server's /api/ps answer as is");
  cmd->callback([json] {
    const auto a = require_server();
    const auto r = http_call(a, "GET", "/api/ps");
    if (r.status != 200) throw std::runtime_error(error_message(r));
    if (*json) {
      std::printf("%s\n", r.body.c_str());
      return;
    }
    const auto j = nlohmann::json::parse(r.body);
    std::printf("%-28s %-14s %-10s %-9s %-8s %s\n", "NAME", "ID", "SIZE", "CONTEXT", "QUEUE",
                "UNTIL");
    for (const auto& m : j["models"]) {
      const std::string digest = m.value("digest", "");
      const auto q = m.value("queue", nlohmann::json::object());
      const std::string queue = fmt::format("{}+{}", q.value("active", 0), q.value("waiting", 0));
      std::string until = m.value("expires_at", "");
      if (until.rfind("2262-", 0) == 0) until = "forever";
      std::printf("%-28s %-14s %-10s %-9lld %-8s %s\n", m.value("name", "").c_str(),
                  digest.substr(0, 12).c_str(), decimal_size(m.value("size", 0.0)).c_str(),
                  static_cast<long long>(m.value("context_length", 0)), queue.c_str(),
                  until.c_str());
    }
  });
}

void add_stop(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("stop", "Unload a model from a running server");
  cmd->add_option("model", *model, "Model name")->required();
  cmd->callback([model] {
    const auto a = require_server();
    const nlohmann::json body = {{"model", *model}, {"keep_alive", 0}};
    const auto r = http_call(a, "POST", "/api/generate", body.dump());
    if (r.status != 200) throw std::runtime_error(error_message(r));
  });
}

}  // namespace hearth::cli
