// `hearth serve`: Ollama's API (and more) on 127.0.0.1:11434 by default.
//
// Every setting comes from, in order of precedence: a flag, an environment
// variable, the config file ($HEARTH_HOME/config.json or --config), the
// default. docs/server.md has the table.
#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/keys.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "engine/limits.h"
#include "sandbox/sandbox.h"
#include "server/ollama_types.h"
#include "server/server.h"
#include "threads/thread_pool.h"

namespace hearth::cli {

namespace {

struct ServeFlags {
  std::string host, keep_alive, max_memory, config, kv_type, response_cache;
  std::string history_retention;
  bool history = false, no_history = false;
  // Numbers as typed ("" when not given): checked with the environment's and
  // the config file's values, so that "--port -1" is an error, not "unset".
  std::string port, parallel, max_loaded, threads, max_queue, ctx, metrics_port;
  bool verbose = false;
  // Exposure and limits (guard.h).
  std::vector<std::string> allow_hosts, allow_origins;
  std::string rate_limit, token_limit, max_body, audit_retention;
  bool insecure_no_auth = false, no_sandbox = false;
  bool strict_input = false, log_content = false;
  std::string tls_cert, tls_key;
};

// "30d", "12h", "90m", "45s": the largest unit that divides it.
std::string human_duration(std::chrono::seconds d) {
  const int64_t s = d.count();
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

// "8GiB", "512MiB", "8G", "1.5g", "1073741824" -> bytes.
uint64_t parse_bytes(const std::string& s, const std::string& what) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("{}: '{}' is not a size (e.g. 8GiB, 512MiB)", what, s));
  }
  std::string unit = s.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mul = 1;
  if (unit == "" || unit == "b")
    mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mul = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mul = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mul = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib")
    mul = 1024.0 * 1024 * 1024 * 1024;
  else
    throw std::invalid_argument(fmt::format("{}: unknown unit in '{}'", what, s));
  if (!(v >= 0) || v * mul > 1e18)
    throw std::invalid_argument(fmt::format("{}: '{}' is out of range", what, s));
  return static_cast<uint64_t>(v * mul);
}

// "0": kept until deleted; else a duration as keys' lifetimes are given ("30d", "12h").
std::chrono::seconds parse_retention(const std::string& s) {
  if (s == "0") return std::chrono::seconds(0);
  try {
    return auth::parse_ttl(s);
  } catch (const auth::KeyError& e) {
    throw std::invalid_argument(
        fmt::format("--history-retention: {} (0 keeps them until deleted)", e.what()));
  }
}

std::string hearth_home() {
  if (auto h = env("HEARTH_HOME"); !h.empty()) return h;
  return env("HOME") + "/.hearth";
}

void serve(const ServeFlags& f) {
  server::ServerOptions o;
  o.home = hearth_home();
  // Config file first: environment and flags override it.
  nlohmann::json cfg = nlohmann::json::object();
  const std::string cfg_path = !f.config.empty() ? f.config : o.home + "/config.json";
  if (std::ifstream in(cfg_path); in) {
    try {
      cfg = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("config file '{}': {}", cfg_path, e.what()));
    }
    if (!cfg.is_object())
      throw std::runtime_error(fmt::format("config file '{}': not a JSON object", cfg_path));
  } else if (!f.config.empty()) {
    throw std::runtime_error(fmt::format("config file '{}' cannot be read", f.config));
  }
  auto setting = [&](const char* key, const char* env_name, const std::string& flag) {
    if (!flag.empty()) return flag;
    if (auto e = env(env_name); !e.empty()) return e;
    if (cfg.contains(key)) {
      const auto& v = cfg[key];
      return v.is_string() ? v.get<std::string>() : v.dump();
    }
    return std::string();
  };
  auto to_int = [](const std::string& s, const char* what, int64_t lo, int64_t hi) {
    int64_t v = 0;
    try {
      size_t used = 0;
      v = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      throw std::invalid_argument(fmt::format("{}: '{}' is not a whole number", what, s));
    }
    if (v < lo || v > hi)
      throw std::invalid_argument(fmt::format("{} must be in [{}, {}], got {}", what, lo, hi, v));
    return v;
  };

  std::string host = "127.0.0.1";
  int port = 11434;
  if (auto h = setting("host", "HEARTH_HOST", f.host); !h.empty()) parse_host(h, host, port);
  if (auto p = setting("port", "HEARTH_PORT", f.port); !p.empty())
    port = static_cast<int>(to_int(p, "--port", 0, 65535));
  if (host == "localhost") host = "127.0.0.1";
  o.http.host = host;
  o.http.port = static_cast<uint16_t>(port);
  o.guard.bind_host = host;
  o.guard.key_store = o.home + "/keys.db";
  o.guard.allowed_hosts = f.allow_hosts;
  o.guard.allowed_origins = f.allow_origins;
  for (const auto& origin : f.allow_origins)
    if (origin == "*" || origin.find("://") == std::string::npos || origin.back() == '/')
      throw std::invalid_argument(
          "--allow-origin wants an exact origin such as "
          "http://192.168.1.5:3000 (scheme://host[:port]), got '" +
          origin + "'");
  if (auto v = setting("rate_limit", "HEARTH_RATE_LIMIT", f.rate_limit); !v.empty())
    o.guard.rate_limit = static_cast<double>(to_int(v, "--rate-limit", 0, 1'000'000));
  if (auto v = setting("token_limit", "HEARTH_TOKEN_LIMIT", f.token_limit); !v.empty())
    o.guard.token_limit = static_cast<double>(to_int(v, "--token-limit", 0, 1'000'000'000));
  if (auto v = setting("max_body", "HEARTH_MAX_BODY", f.max_body); !v.empty())
    o.http.max_body_bytes = parse_bytes(v, "--max-body");
  o.audit_log = o.home + "/audit.db";
  if (auto v = setting("audit_retention", "HEARTH_AUDIT_RETENTION", f.audit_retention); v == "0") {
    o.audit_log.clear();
  } else if (!v.empty()) {
    try {
      o.audit_retention = auth::parse_ttl(v);
    } catch (const auth::KeyError& e) {
      throw std::invalid_argument(std::string("--audit-retention: ") + e.what());
    }
  }
  // Anything but loopback needs keys, or the user's explicit word that the
  // network in front is trusted.
  const bool loopback = [&] {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(host, ec);
    return !ec && a.is_loopback();
  }();
  if (!loopback && !auth::KeyStore(o.guard.key_store).any_active()) {
    if (!f.insecure_no_auth)
      throw std::runtime_error(
          "refusing to listen on " + host +
          " without API keys: anyone who can reach it could use and delete your models. "
          "Create a key (hearth keys create NAME), or pass --insecure-no-auth if the network "
          "in front of hearth is trusted");
    spdlog::warn(
        "listening on {} with no API keys (--insecure-no-auth): anyone who can reach "
        "this address can use, create and delete models",
        host);
  }
  if (auto v = setting("parallel", "HEARTH_NUM_PARALLEL", f.parallel); !v.empty())
    o.models.n_parallel = static_cast<int>(to_int(v, "--parallel", 1, 256));
  if (auto v = setting("max_queue", "HEARTH_MAX_QUEUE", f.max_queue); !v.empty())
    o.models.max_queue = to_int(v, "--max-queue", 0, 1'000'000);
  if (auto v = setting("max_loaded_models", "HEARTH_MAX_LOADED_MODELS", f.max_loaded); !v.empty())
    o.models.max_loaded = static_cast<int>(to_int(v, "--max-loaded-models", 1, 64));
  if (auto v = setting("max_memory", "HEARTH_MAX_MEMORY", f.max_memory); !v.empty())
    o.models.max_memory = parse_bytes(v, "--max-memory");
  if (auto v = setting("threads", "HEARTH_NUM_THREADS", f.threads); !v.empty())
    o.models.threads = threads::resolve_thread_count(
        static_cast<int>(to_int(v, "--threads", 1, threads::max_threads())));
  if (auto v = setting("ctx", "HEARTH_CONTEXT_LENGTH", f.ctx); !v.empty())
    o.default_num_ctx = to_int(v, "--ctx", engine::kMinContext, engine::kMaxContext);
  if (auto v = setting("kv_type", "HEARTH_KV_CACHE_TYPE", f.kv_type); !v.empty()) {
    if (v != "f16" && v != "q8_0")
      throw std::invalid_argument("--kv-type must be f16 or q8_0, got " + v);
    o.models.kv_type = v == "q8_0" ? backend::KvType::Q8_0 : backend::KvType::F16;
  }
  if (auto v = setting("response_cache", "HEARTH_RESPONSE_CACHE", f.response_cache); !v.empty())
    o.response_cache_bytes = parse_bytes(v, "--response-cache");
  if (auto v = setting("metrics_port", "HEARTH_METRICS_PORT", f.metrics_port); !v.empty())
    o.metrics_port = static_cast<uint16_t>(to_int(v, "--metrics-port", 0, 65535));
  auto to_bool = [](const std::string& v, const char* what) {
    if (v != "true" && v != "false" && v != "1" && v != "0")
      throw std::invalid_argument(fmt::format("{} must be true or false, got {}", what, v));
    return v == "true" || v == "1";
  };
  const std::string history_flag = f.no_history ? "false" : f.history ? "true" : "";
  if (auto v = setting("history", "HEARTH_HISTORY", history_flag); !v.empty())
    o.history = to_bool(v, "--history");
  if (auto v = setting("strict_input", "HEARTH_STRICT_INPUT", f.strict_input ? "true" : "");
      !v.empty())
    o.strict_input = to_bool(v, "--strict-input");
  if (auto v = setting("log_content", "HEARTH_LOG_CONTENT", f.log_content ? "true" : "");
      !v.empty())
    o.log_content = to_bool(v, "--log-content");
  o.http.tls_cert_file = setting("tls_cert", "HEARTH_TLS_CERT", f.tls_cert);
  o.http.tls_key_file = setting("tls_key", "HEARTH_TLS_KEY", f.tls_key);
  if (o.http.tls_cert_file.empty() != o.http.tls_key_file.empty())
    throw std::invalid_argument("--tls-cert and --tls-key go together");
  if (auto v = setting("history_retention", "HEARTH_HISTORY_RETENTION", f.history_retention);
      !v.empty())
    o.history_retention = parse_retention(v);
  if (auto v = setting("keep_alive", "HEARTH_KEEP_ALIVE", f.keep_alive); !v.empty()) {
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(v);  // a number of seconds
    } catch (const std::exception&) {
      j = v;  // a duration such as "5m"
    }
    const auto k = server::ollama::parse_keep_alive(j);
    o.default_keep_alive =
        k.is_forever() ? engine::KeepAlive::never_expire() : engine::KeepAlive{k.duration(), false};
  }

  // SIGINT and SIGTERM stop the server; they are waited for on a thread of their own.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // Writes only under $HEARTH_HOME from here on (Landlock holds for the
  // threads created later, so before the server starts any).
  std::error_code home_ec;  // it must exist to be the one writable place (and for audit.db)
  std::filesystem::create_directories(o.home, home_ec);
  if (home_ec) throw std::runtime_error("cannot create " + o.home + ": " + home_ec.message());
  std::string landlock_why;
  const bool landlock = !f.no_sandbox && sandbox::restrict_writes({o.home}, &landlock_why);
  server::Server srv(o);
  // Bound: now no new connection to anywhere, no exec (seccomp, every thread).
  if (f.no_sandbox) {
    spdlog::warn("--no-sandbox: the server may open outbound connections and run programs");
  } else {
    std::string why;
    if (!sandbox::deny_egress(&why))
      throw std::runtime_error("cannot confine the server (" + why +
                               "); --no-sandbox runs it unconfined");
    srv.set_sandboxed(true);
    if (landlock)
      spdlog::info("sandbox: no outbound connections, no exec; writes only under {}", o.home);
    else
      spdlog::warn("sandbox: no outbound connections, no exec; writes not confined ({})",
                   landlock_why);
  }
  const char* scheme = o.http.tls_cert_file.empty() ? "http" : "https";
  spdlog::info("hearth {} listening on {}://{}:{} (models under {})", HEARTH_VERSION, scheme, host,
               srv.port(), o.home);
  if (o.log_content) spdlog::warn("--log-content: prompts and replies are written to this log");
  if (o.metrics_port) spdlog::info("metrics on 127.0.0.1:{}/metrics", srv.metrics_port());
  spdlog::info("web UI at {}://{}:{}/ ({})", scheme, host, srv.port(),
               !o.history ? "no history kept on the server"
               : o.history_retention.count() == 0
                   ? fmt::format("conversations in {}/history.db", o.home)
                   : fmt::format("conversations in {}/history.db, deleted {} after their "
                                 "last message",
                                 o.home, human_duration(o.history_retention)));
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("stopping ({})", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.stop();
  });
  srv.run();
  // run() returned: stopped by a signal, or an error; wake the signal thread if it still waits.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
}

}  // namespace

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void add_serve(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Serve Ollama's API (127.0.0.1:11434 by default)");
  cmd->add_option("--host", f->host,
                  "Address to listen on, or host:port (env HEARTH_HOST; default 127.0.0.1)");
  cmd->add_option("--port", f->port, "Port (env HEARTH_PORT; default 11434)");
  cmd->add_option("--parallel", f->parallel,
                  "Sequences decoded together per model (env HEARTH_NUM_PARALLEL; default from "
                  "memory, at least 4)");
  cmd->add_option("--max-queue", f->max_queue,
                  "Requests waiting per model before 503 (env HEARTH_MAX_QUEUE; default 512)");
  cmd->add_option(
      "--max-memory", f->max_memory,
      "Memory for loaded models, e.g. 8GiB (env HEARTH_MAX_MEMORY; default 3/4 of RAM)");
  cmd->add_option("--max-loaded-models", f->max_loaded,
                  "Models loaded at once (env HEARTH_MAX_LOADED_MODELS; default 3)");
  cmd->add_option("--keep-alive", f->keep_alive,
                  "How long an idle model stays loaded: 5m, 1h, -1 forever (env HEARTH_KEEP_ALIVE; "
                  "default 5m)");
  cmd->add_option("--ctx", f->ctx,
                  "Default context per sequence (env HEARTH_CONTEXT_LENGTH; default the model's, "
                  "at most 4096)");
  cmd->add_option(
      "-t,--threads", f->threads,
      "Threads per forward pass (env HEARTH_NUM_THREADS; default one per physical core)");
  cmd->add_option("--kv-type", f->kv_type,
                  "KV cache type: f16 or q8_0 (env HEARTH_KV_CACHE_TYPE; default f16)");
  cmd->add_option("--response-cache", f->response_cache,
                  "Bytes of replayable deterministic answers, 0 off (env HEARTH_RESPONSE_CACHE; "
                  "default 64MiB)");
  cmd->add_option("--metrics-port", f->metrics_port,
                  "Also serve GET /metrics and /health on 127.0.0.1:PORT, without a key (env "
                  "HEARTH_METRICS_PORT; default none)");
  auto* history =
      cmd->add_flag("--history", f->history,
                    "Keep the web UI's conversations in $HEARTH_HOME/history.db (the default; env "
                    "HEARTH_HISTORY=true|false)");
  cmd->add_flag("--no-history", f->no_history,
                "Keep no conversations on the server: the page keeps them in the browser")
      ->excludes(history);
  cmd->add_option("--history-retention", f->history_retention,
                  "Delete conversations untouched for this long: 30d, 12h, 0 never (env "
                  "HEARTH_HISTORY_RETENTION; default 30d)");
  cmd->add_option("--config", f->config, "Config file (default $HEARTH_HOME/config.json)");
  cmd->add_flag("--verbose", f->verbose, "Log every request (never their content)");
  cmd->add_option("--allow-host", f->allow_hosts,
                  "A Host name clients use to reach this server, besides localhost, *.localhost, "
                  "*.internal, this machine's hostname and IP addresses (repeatable; others get "
                  "403)");
  cmd->add_option("--allow-origin", f->allow_origins,
                  "A web origin (scheme://host[:port]) whose pages may call this server "
                  "(repeatable; default: only the server's own, and apps' app://, tauri://, "
                  "vscode-webview://)");
  cmd->add_flag("--insecure-no-auth", f->insecure_no_auth,
                "Listen on a non-loopback address without API keys (warns at every start)");
  cmd->add_flag("--no-sandbox", f->no_sandbox,
                "Do not confine the server (seccomp: no outbound connections, no exec; "
                "Landlock: writes only under $HEARTH_HOME)");
  cmd->add_option("--rate-limit", f->rate_limit,
                  "Requests per minute per API key and per non-loopback client, 0 off (env "
                  "HEARTH_RATE_LIMIT; default 60)");
  cmd->add_option("--token-limit", f->token_limit,
                  "Generated tokens per minute per API key or client, 0 off (env "
                  "HEARTH_TOKEN_LIMIT; default 0)");
  cmd->add_option("--audit-retention", f->audit_retention,
                  "How long the audit log ($HEARTH_HOME/audit.db: time, key, client, route, "
                  "model, tokens, status; never content) keeps a request, e.g. 30d; 0: no log "
                  "(env HEARTH_AUDIT_RETENTION; default 30d)");
  cmd->add_flag("--strict-input", f->strict_input,
                "Refuse (400) users' text that holds the model's turn markers ([INST], "
                "<|im_start|>, ...) instead of neutralising them (env HEARTH_STRICT_INPUT)");
  cmd->add_flag("--log-content", f->log_content,
                "Write prompts and replies to the log (off by default: the log never holds "
                "what was said; env HEARTH_LOG_CONTENT)");
  cmd->add_option("--tls-cert", f->tls_cert,
                  "Serve HTTPS with this PEM certificate chain (with --tls-key; env "
                  "HEARTH_TLS_CERT)");
  cmd->add_option("--tls-key", f->tls_key,
                  "The PEM private key of --tls-cert (env HEARTH_TLS_KEY)");
  cmd->add_option("--max-body", f->max_body,
                  "Largest JSON request body, e.g. 16MiB (env HEARTH_MAX_BODY; default 16MiB)");
  cmd->callback([f] {
    if (f->verbose) spdlog::set_level(spdlog::level::debug);
    serve(*f);
  });
}

}  // namespace hearth::cli
