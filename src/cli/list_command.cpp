// hearth list [--json]
//
// The models of the store and the bundled ones, as `ollama list` shows them:
// NAME, ID (the first 12 hex digits of the manifest's digest), SIZE, MODIFIED.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"
#include "store/store.h"

namespace hearth::cli {

namespace {

// Decimal units, as Ollama prints sizes: "30 MB", "4.7 GB".
std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 10)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string ago(int64_t modified_ns) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t s = (now - modified_ns) / 1000000000;
  const auto unit = [](int64_t n, const char* one) {
    return (n == 1 ? std::string("1 ") + one : std::to_string(n) + " " + one + "s") + " ago";
  };
  if (s < 1) return "Less than a second ago";
  if (s < 60) return unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 86400) return unit(s / 3600, "hour");
  if (s < 86400 * 14) return unit(s / 86400, "day");
  if (s < 86400 * 60) return unit(s / (86400 * 7), "week");
  if (s < 86400 * 730) return unit(s / (86400 * 30), "month");
  return unit(s / (86400 * 365), "year");
}

std::string rfc3339(int64_t ns) {
  const time_t t = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "2026-12-01T16:20:35.834245889Z" -> ns since the epoch (0 when unreadable).
int64_t parse_rfc3339_ns(const std::string& t) {
  struct tm tm {};
  const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ns = static_cast<int64_t>(timegm(&tm)) * 1000000000;
  if (*rest == '.') {
    int64_t frac = 0, scale = 100000000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10)
      if (scale > 0) frac += (*rest - '0') * scale;
    ns += frac;
  }
  return ns;
}

}  // namespace

void add_list(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List the models");
  cmd->alias("ls");
  cmd->add_flag("--json", *json,
                "one JSON array of {name, digest, size, modified_at, path, bundled}");
  cmd->callback([json] {
    std::vector<store::ModelEntry> models;
    // A running server's store when one answers (it may be another machine's).
    if (const auto a = server_address(); server_answers(a)) {
      const auto r = http_call(a, "GET", "/api/tags");
      if (r.status != 200) throw std::runtime_error(error_message(r));
      const auto tags = nlohmann::json::parse(r.body);
      for (const auto& m : tags["models"]) {
        store::ModelEntry e;
        e.name = m.value("name", "");
        e.digest = "sha256:" + m.value("digest", "");
        e.size = m.value("size", uint64_t{0});
        e.bundled = m.value("bundled", false);
        e.modified_ns = parse_rfc3339_ns(m.value("modified_at", ""));
        models.push_back(e);
      }
    } else {
      models = store::Store(store::Store::default_root()).list();
    }
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& m : models)
        out.push_back({{"name", m.name},
                       {"model", m.name},
                       {"digest", m.digest.substr(7)},
                       {"size", m.size},
                       {"modified_at", rfc3339(m.modified_ns)},
                       {"path", m.gguf_path},
                       {"bundled", m.bundled}});
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    size_t width = 4;
    for (const auto& m : models) width = std::max(width, m.name.size());
    std::printf("%-*s    %-12s    %-8s    %s\n", static_cast<int>(width), "NAME", "ID", "SIZE",
                "MODIFIED");
    for (const auto& m : models)
      std::printf("%-*s    %-12s    %-8s    %s\n", static_cast<int>(width), m.name.c_str(),
                  m.digest.substr(7, 12).c_str(), human_bytes(m.size).c_str(),
                  m.bundled ? "bundled with hearth" : ago(m.modified_ns).c_str());
  });
}

}  // namespace hearth::cli
