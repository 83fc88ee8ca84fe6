#include "server/guard.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cmath>

namespace hearth::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Host's host part, lower-cased, IPv6 in brackets; nullopt when malformed
// (empty, a bad port, stray characters).
std::optional<std::string> host_part(std::string_view v) {
  v = trim(v);
  std::string_view host = v, port;
  if (starts_with(v, "[")) {
    const auto end = v.find(']');
    if (end == std::string_view::npos) return std::nullopt;
    host = v.substr(0, end + 1);
    const auto rest = v.substr(end + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (const auto colon = v.rfind(':'); colon != std::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (host.empty() || port.size() > 5) return std::nullopt;
  for (char c : port)
    if (c < '0' || c > '9') return std::nullopt;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == ':' || c == '[' || c == ']'))
      return std::nullopt;
  return lower(host);
}

bool is_loopback(const std::string& addr) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(addr, ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a.is_loopback();
}

Refusal refuse(int status, std::string message, Headers headers = {}) {
  return Refusal{status, std::move(message), std::move(headers)};
}

}  // namespace

Access route_access(std::string_view method, std::string_view path) {
  const bool read = method == "GET" || method == "HEAD";
  if (read && (path == "/health" || path == "/" || starts_with(path, "/ui/")))
    return Access::Public;
  static constexpr std::string_view kInference[] = {
      "/api/generate", "/api/chat", "/api/embed", "/api/embeddings",
      "/api/tags",     "/api/show", "/api/ps",    "/api/version",
  };
  for (auto p : kInference)
    if (path == p) return Access::Inference;
  if (path == "/api/hearth/conversations" || starts_with(path, "/api/hearth/conversations/"))
    return Access::Inference;
  if (starts_with(path, "/v1/")) return Access::Inference;
  return Access::Admin;
}

Guard::Guard(GuardOptions o) : o_(std::move(o)) {
  if (!o_.key_store.empty()) keys_ = std::make_unique<auth::KeyStore>(o_.key_store);
  for (auto& h : o_.allowed_hosts) h = lower(h);
  for (auto& h : o_.allowed_origins) h = lower(h);
  boost::system::error_code ec;
  const auto bound = boost::asio::ip::make_address(o_.bind_host, ec);
  if (!ec && !bound.is_unspecified())
    bound_host_ = bound.is_v6() ? fmt::format("[{}]", bound.to_string()) : bound.to_string();
}

bool Guard::auth_required() {
  if (!keys_) return false;
  try {
    return keys_->any_active();
  } catch (const auth::KeyError& e) {
    // An unreadable store fails closed: every request then needs a key, and none passes.
    spdlog::error("{}", e.what());
    return true;
  }
}

namespace {

// An IP address written as one ("10.0.0.5", "[::1]"): no name a DNS rebinding
// could point elsewhere.
bool ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

// Desktop and editor apps' origins (Electron's app://, Tauri, VS Code
// webviews), which Ollama admits without configuration. No web page can send
// them. (Pages from other ports of this machine still need --allow-origin:
// a local dev server or notebook may serve what someone else wrote.)
bool app_origin(std::string_view origin) {
  for (std::string_view scheme : {"app://", "tauri://", "vscode-webview://"})
    if (starts_with(origin, scheme) && origin.size() > scheme.size()) return true;
  return false;
}

}  // namespace

namespace {

// This machine's own name, lower case ("" when it has none).
const std::string& own_hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return std::string();
    return lower(buf);
  }();
  return name;
}

}  // namespace

bool Guard::host_allowed(const std::string& host) const {
  if (host == "localhost" || host.ends_with(".localhost") || ip_literal(host)) return true;
  // Names only this machine's own resolver gives out, as Ollama admits them:
  // its hostname, and *.internal (ICANN's private-use domain), which Docker
  // and Podman give the host as seen from a container (Open WebUI's
  // host.docker.internal). A rebinding page's name is none of these.
  if (host.ends_with(".internal") || (!own_hostname().empty() && host == own_hostname()))
    return true;
  if (std::find(o_.allowed_hosts.begin(), o_.allowed_hosts.end(), host) != o_.allowed_hosts.end())
    return true;
  return !bound_host_.empty() && host == bound_host_;
}

std::optional<Refusal> Guard::admit(HttpRequest& req) {
  const Access access = route_access(req.method, req.path);
  if (access == Access::Public && req.path == "/health") return std::nullopt;

  // 1. Host.
  int hosts = 0;
  const auto host_header = req.header("host", &hosts);
  const auto host = hosts == 1 ? host_part(*host_header) : std::nullopt;
  if (!host || !host_allowed(*host))
    return refuse(403, "Host not allowed (hearth serve --allow-host names the hosts it answers)");

  // 2. Origin and Sec-Fetch-Site: a browser's cross-site request passes only
  // from an origin named by --allow-origin.
  int origins = 0;
  const auto origin = req.header("origin", &origins);
  if (origins > 1) return refuse(403, "more than one Origin header");
  bool foreign_allowed = false;
  if (origin) {
    const std::string o = lower(trim(*origin));
    const std::string own = (o_.tls ? "https://" : "http://") + lower(trim(*host_header));
    foreign_allowed = o != own && (app_origin(o) ||
                                   std::find(o_.allowed_origins.begin(), o_.allowed_origins.end(),
                                             o) != o_.allowed_origins.end());
    if (o != own && !foreign_allowed)
      return refuse(403,
                    "origin not allowed (hearth serve --allow-origin names the web origins that "
                    "may call this server)");
    if (foreign_allowed)
      req.response_headers = {{"Access-Control-Allow-Origin", std::string(trim(*origin))},
                              {"Vary", "Origin"}};
  }
  const auto site = req.header("sec-fetch-site");
  if (site && lower(trim(*site)) == "cross-site" && !foreign_allowed)
    return refuse(403, "cross-site requests are not allowed");
  if (req.method == "OPTIONS" && foreign_allowed) {  // a preflight
    Headers h = req.response_headers;
    h.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, HEAD");
    h.emplace_back("Access-Control-Allow-Headers",
                   "Authorization, Content-Type, x-api-key, anthropic-version");
    h.emplace_back("Access-Control-Max-Age", "600");
    return refuse(204, "", std::move(h));
  }

  // 3. Credentials.
  for (std::string_view q = req.query; !q.empty();) {
    const auto amp = q.find('&');
    const std::string name = lower(q.substr(0, std::min(q.find('='), amp)));
    if (name == "key" || name == "api_key" || name == "api-key" || name == "apikey" ||
        name == "access_token" || name == "token")
      return refuse(400, "API keys are not accepted in the URL; send Authorization: Bearer KEY");
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  int n_auth = 0, n_xkey = 0;
  const auto authz = req.header("authorization", &n_auth);
  const auto xkey = req.header("x-api-key", &n_xkey);
  if (n_auth > 1 || n_xkey > 1) return refuse(400, "more than one credential header");
  std::optional<std::string> presented;
  if (authz) {
    const std::string_view v = trim(*authz);
    if (v.size() < 7 || lower(v.substr(0, 7)) != "bearer ")
      return refuse(401, "Authorization must be 'Bearer KEY'", {{"WWW-Authenticate", "Bearer"}});
    presented = std::string(trim(v.substr(7)));
  }
  if (xkey) {
    const std::string k(trim(*xkey));
    if (presented && *presented != k)
      return refuse(400, "Authorization and x-api-key carry different keys; send one");
    presented = k;
  }
  if (access != Access::Public && auth_required()) {
    if (!presented)
      return refuse(401, "an API key is required (Authorization: Bearer KEY)",
                    {{"WWW-Authenticate", "Bearer"}});
    std::optional<auth::KeyInfo> key;
    try {
      key = keys_->verify(*presented);
    } catch (const auth::KeyError& e) {
      spdlog::error("{}", e.what());
      return refuse(500, "the key store cannot be read");
    }
    if (!key)
      return refuse(401, "invalid API key",
                    {{"WWW-Authenticate", "Bearer error=\"invalid_token\""}});
    if (access == Access::Admin && key->scope != auth::Scope::Admin)
      return refuse(
          403, "key '" + key->name + "' has scope inference; " + req.path + " needs an admin key");
    req.key_name = key->name;
  }

  // 4. Rate.
  if (access == Access::Public) return std::nullopt;
  const std::string by_key = req.key_name.empty() ? "" : "key:" + req.key_name;
  const std::string by_addr = is_loopback(req.remote) ? "" : "addr:" + req.remote;
  if (o_.rate_limit > 0) {
    std::lock_guard lk(mu_);
    for (const auto* id : {&by_key, &by_addr})
      if (!id->empty())
        if (int wait = take(requests_, *id, o_.rate_limit, 1, false); wait > 0)
          return refuse(429, "too many requests; retry in " + std::to_string(wait) + " s",
                        {{"Retry-After", std::to_string(wait)}});
  }
  if (o_.token_limit > 0 && access == Access::Inference) {
    std::lock_guard lk(mu_);
    const std::string& id = by_key.empty() ? "addr:" + req.remote : by_key;
    if (int wait = owed(tokens_, id, o_.token_limit); wait > 0)
      return refuse(429, "generated-token budget spent; retry in " + std::to_string(wait) + " s",
                    {{"Retry-After", std::to_string(wait)}});
  }
  return std::nullopt;
}

bool Guard::take_tokens(const HttpRequest& req, int64_t n) {
  if (o_.token_limit <= 0 || n <= 0) return true;
  const std::string id = req.key_name.empty() ? "addr:" + req.remote : "key:" + req.key_name;
  std::lock_guard lk(mu_);
  take(tokens_, id, o_.token_limit, static_cast<double>(n), true);
  return owed(tokens_, id, o_.token_limit) == 0;
}

int Guard::take(std::unordered_map<std::string, Bucket>& buckets, const std::string& id,
                double per_minute, double cost, bool may_owe) {
  const auto now = std::chrono::steady_clock::now();
  if (buckets.size() > 100'000) {  // forget the full ones (an address scan cannot grow this)
    std::erase_if(buckets, [&](const auto& kv) {
      return kv.second.tokens +
                 per_minute / 60.0 * std::chrono::duration<double>(now - kv.second.at).count() >=
             per_minute;
    });
  }
  auto [it, fresh] = buckets.try_emplace(id, Bucket{per_minute, now});
  Bucket& b = it->second;
  const double rate = per_minute / 60.0;  // tokens per second
  b.tokens =
      std::min(per_minute, b.tokens + rate * std::chrono::duration<double>(now - b.at).count());
  b.at = now;
  if (b.tokens >= cost || may_owe) {
    b.tokens -= cost;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((cost - b.tokens) / rate)));
}

int Guard::owed(std::unordered_map<std::string, Bucket>& buckets, const std::string& id,
                double per_minute) {
  const auto it = buckets.find(id);
  if (it == buckets.end()) return 0;
  const auto now = std::chrono::steady_clock::now();
  const double rate = per_minute / 60.0;
  Bucket& b = it->second;
  b.tokens =
      std::min(per_minute, b.tokens + rate * std::chrono::duration<double>(now - b.at).count());
  b.at = now;
  if (b.tokens >= 0) return 0;
  return std::max(1, static_cast<int>(std::ceil(-b.tokens / rate)));
}

}  // namespace hearth::server
