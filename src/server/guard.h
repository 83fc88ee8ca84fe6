// Who may ask what: the server's checks before any handler runs, on the
// normalised path the router dispatches. In order:
//   1. Host: loopback names and addresses, the address listened on (unless
//      0.0.0.0 or ::) and --allow-host names; anything else (empty, missing,
//      duplicated, other names, private addresses, *.local) is a 403: a DNS
//      rebinding page's requests carry its own host name.
//   2. Origin: absent (a non-browser client), the server's own origin
//      ("http[s]://" + the allowed Host) or exactly one of --allow-origin;
//      anything else, and `Sec-Fetch-Site: cross-site`, is a 403 on every
//      route, so a web page cannot even send a "simple" POST. Allowed foreign
//      origins get Access-Control-Allow-Origin with their exact value (never
//      "*", never credentials; keys travel in headers, not cookies) and their
//      preflights a 204.
//   3. Credentials: `Authorization: Bearer K` or `x-api-key: K`, one of them
//      (both and different: 400); a key in the query string is a 400. With
//      any active key in the store, every route but the public ones needs a
//      key whose scope covers the route (route_access); 401 otherwise, 403
//      for a key with too small a scope.
//   4. Rate: a token bucket per key and per client address (loopback
//      addresses without a key are not limited: the machine's own users),
//      --rate-limit requests a minute; and, for generation routes, the
//      generated tokens a minute (--token-limit) charged by the routes with
//      take_tokens(). Over either: 429 with Retry-After.
// /health skips all of it (a monitor needs no key and sends any Host).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/keys.h"
#include "server/http.h"

namespace hearth::server {

struct GuardOptions {
  std::string bind_host = "127.0.0.1";       // the address listened on
  std::vector<std::string> allowed_hosts;    // more Host names/addresses (no port)
  std::vector<std::string> allowed_origins;  // exact "scheme://host[:port]" of other web origins
  bool tls = false;                          // the server's own origin is https://
  std::string key_store;                     // keys.db; "" never needs a key
  double rate_limit = 60;                    // requests per minute per key and address; 0 off
  double token_limit = 0;                    // generated tokens per minute likewise; 0 off
};

// The least a route needs, by method and normalised path. Public: GET/HEAD of
// /health, / and /ui/*. Inference: generation, embeddings, chat and model
// listing (Ollama's /api/generate, chat, embed, embeddings, tags, show, ps,
// version, the UI's conversations; everything under /v1/, OpenAI's and
// Anthropic's APIs). Everything else, including paths no route knows, is
// Admin: a new route is closed until it is listed here.
enum class Access { Public, Inference, Admin };
Access route_access(std::string_view method, std::string_view path);

class Guard {
 public:
  explicit Guard(GuardOptions o);

  // The checks above, for a request whose header has arrived (nothing of its
  // body read). nullopt lets it through, with req.key_name and
  // req.response_headers set; else what to answer.
  std::optional<Refusal> admit(HttpRequest& req);

  // For the generation routes, as tokens are generated: charges `n` tokens
  // to the request's key (or, without one, its client address). Returns
  // false once that budget is spent (the route may stop early); the next
  // generation request is then a 429 until the bucket refills. Always true
  // with --token-limit 0. Thread-safe.
  bool take_tokens(const HttpRequest& req, int64_t n);

  // Whether requests need a key now (some key in the store is active).
  bool auth_required();

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  // Takes `cost` from bucket `id` (capacity and refill: `per_minute`); the
  // seconds to wait when it cannot (0: taken). Debt allowed when `may_owe`.
  int take(std::unordered_map<std::string, Bucket>& buckets, const std::string& id,
           double per_minute, double cost, bool may_owe);
  int owed(std::unordered_map<std::string, Bucket>& buckets, const std::string& id,
           double per_minute);
  bool host_allowed(const std::string& host_header) const;

  GuardOptions o_;
  std::string bound_host_;  // the listening address as a Host names it, "" for 0.0.0.0 and ::
  std::unique_ptr<auth::KeyStore> keys_;
  std::mutex mu_;  // the buckets
  std::unordered_map<std::string, Bucket> requests_, tokens_;
};

}  // namespace hearth::server
