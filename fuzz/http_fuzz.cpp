// libFuzzer target for the HTTP request path before any handler: bytes ->
// Beast's request parser (with the server's limits) -> the normalised path ->
// the guard's decision (Host, Origin, credentials, scopes, rate) and, for a
// body, the strict JSON body parser. Nothing may crash, hang or leak, and the
// guard's decisions must hold their invariants.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <string>

#include "server/guard.h"
#include "server/http.h"
#include "server/json_body.h"

namespace http = boost::beast::http;
using namespace hearth::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Guard guard([] {
    GuardOptions o;
    o.allowed_hosts = {"hearth.lan"};
    o.allowed_origins = {"http://app.lan:3000"};
    o.rate_limit = 0;
    return o;
  }());
  http::request_parser<http::string_body> p;
  p.header_limit(16 << 10);
  p.body_limit(1 << 20);
  p.eager(true);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(data, size), ec);
  if (ec || !p.is_header_done()) return 0;
  const auto& msg = p.get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const auto q = req.target.find('?');
  const auto path = normalize_path(req.target.substr(0, q));
  if (!path) return 0;
  req.path = *path;
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.remote = "192.0.2.1";
  const auto refusal = guard.admit(req);
  // A path the guard passes without a key store is one of the known kinds;
  // a refusal is a client error (or a preflight's 204), never a 5xx.
  if (refusal && (refusal->status < 204 || refusal->status >= 500)) std::abort();
  if (!refusal && !req.key_name.empty()) std::abort();  // no keys, so no key can be named
  if (p.is_done() && !msg.body().empty()) {
    try {
      const auto j = parse_json_body(msg.body());
      if (!j.is_object()) std::abort();
      (void)parse_json_body(j.dump());  // what it accepts, it accepts again
    } catch (const BadJson&) {
    }
  }
  return 0;
}
