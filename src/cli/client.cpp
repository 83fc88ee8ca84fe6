#include "cli/client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <stdexcept>

namespace hearth::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

void parse_host(std::string s, std::string& host, int& port) {
  if (auto p = s.find("://"); p != std::string::npos) s = s.substr(p + 3);
  // A URL's path ("http://host:port/metrics", ".../v1") names no server: dropped.
  if (auto slash = s.find('/'); slash != std::string::npos) s.resize(slash);
  auto to_port = [](const std::string& t) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(t, &used);
    } catch (const std::exception&) {
    }
    if (used != t.size() || v < 0 || v > 65535)
      throw std::invalid_argument("server address: '" + t + "' is not a port");
    return v;
  };
  if (!s.empty() && s[0] == '[') {  // [::1]:port
    const auto close = s.find(']');
    if (close == std::string::npos) throw std::invalid_argument("server address: bad address " + s);
    host = s.substr(1, close - 1);
    if (close + 1 < s.size() && s[close + 1] == ':') port = to_port(s.substr(close + 2));
    return;
  }
  const auto colon = s.rfind(':');
  if (colon != std::string::npos && s.find(':') == colon) {
    if (colon > 0) host = s.substr(0, colon);
    port = to_port(s.substr(colon + 1));
  } else if (!s.empty()) {
    host = s;
  }
}

ServerAddress address_of(const std::string& url, const std::string& origin) {
  ServerAddress a;
  a.origin = origin;
  parse_host(url, a.host, a.port);
  a.explicit_ = true;
  a.tls = url.rfind("https://", 0) == 0;
  a.name = a.host;
  if (a.host == "0.0.0.0") a.host = "127.0.0.1";  // listening everywhere: reach it locally
  if (a.host == "localhost") a.host = "127.0.0.1";
  return a;
}

ServerAddress server_address() {
  if (const char* h = std::getenv("HEARTH_HOST"); h && *h) return address_of(h);
  return {};
}

namespace {

net::ip::tcp::endpoint endpoint(const ServerAddress& a) {
  beast::error_code ec;
  const auto addr = net::ip::make_address(a.host, ec);
  if (!ec) return {addr, static_cast<unsigned short>(a.port)};
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  const auto found = resolver.resolve(a.host, std::to_string(a.port), ec);
  if (ec || found.empty())
    throw std::runtime_error(a.origin + ": cannot resolve '" + a.host + "': " + ec.message());
  return found.begin()->endpoint();
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// TLS 1.2+, the peer's chain verified against the system's CAs and
// HEARTH_TLS_CA, and its certificate's name or IP against a.host.
net::ssl::context tls_context() {
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1);
  ctx.set_default_verify_paths();
  if (const char* ca = std::getenv("HEARTH_TLS_CA"); ca && *ca) {
    beast::error_code ec;
    ctx.load_verify_file(ca, ec);
    if (ec)
      throw std::runtime_error(std::string("HEARTH_TLS_CA: cannot read '") + ca +
                               "' as PEM certificates: " + ec.message());
  }
  ctx.set_verify_mode(net::ssl::verify_peer);
  return ctx;
}

// The certificate must name the host as written; a DNS name also goes out as
// SNI, for servers (or a proxy in front) with one certificate per name.
void verify_name(TlsStream& s, const ServerAddress& a) {
  const std::string& name = a.name.empty() ? a.host : a.name;
  s.set_verify_callback(net::ssl::host_name_verification(name));
  beast::error_code ec;
  net::ip::make_address(name, ec);
  if (ec) SSL_set_tlsext_host_name(s.native_handle(), name.c_str());
}

std::runtime_error tls_failure(const ServerAddress& a, const beast::error_code& ec) {
  return std::runtime_error("TLS with the hearth server at " + a.host + ":" +
                            std::to_string(a.port) + " failed: " + ec.message() +
                            " (a self-signed certificate: set HEARTH_TLS_CA to its PEM file)");
}

// One GET /health, every step bounded by the stream's expiry.
template <class Stream>
void probe(Stream& stream, const ServerAddress& a, bool& ok) {
  auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, "/health", 11);
  req->set(http::field::host, a.host);
  http::async_write(stream, *req, [&, req](beast::error_code ec, size_t) {
    if (ec) return;
    auto buf = std::make_shared<beast::flat_buffer>();
    auto res = std::make_shared<http::response<http::string_body>>();
    http::async_read(stream, *buf, *res, [&ok, buf, res](beast::error_code ec2, size_t) {
      ok = !ec2 && res->result_int() == 200;
    });
  });
}

template <class Stream>
ClientResponse exchange(Stream& stream, const ServerAddress& a, const std::string& method,
                        const std::string& target, const std::string& body,
                        const std::function<bool(const nlohmann::json&)>& on_line);

}  // namespace

bool server_answers(const ServerAddress& a, int timeout_ms) {
  net::io_context ioc;
  bool ok = false;
  if (a.tls) {
    auto ctx = tls_context();  // an unreadable HEARTH_TLS_CA is said, not taken for "no server"
    TlsStream stream(ioc, ctx);
    verify_name(stream, a);
    beast::error_code handshake;  // set when a server was reached and TLS with it failed
    try {
      beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(timeout_ms));
      beast::get_lowest_layer(stream).async_connect(endpoint(a), [&](beast::error_code ec) {
        if (ec) return;
        stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code ec2) {
          if (!ec2) return probe(stream, a, ok);
          if (ec2 != beast::error::timeout && ec2 != net::error::operation_aborted) handshake = ec2;
        });
      });
      ioc.run();
    } catch (const std::exception&) {
      return false;
    }
    // Something answers where the user pointed and cannot be trusted: the
    // caller must not fall back to working alone (or on the local store).
    if (handshake) throw tls_failure(a, handshake);
    return ok;
  }
  try {
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.async_connect(endpoint(a), [&](beast::error_code ec) {
      if (!ec) probe(stream, a, ok);
    });
    ioc.run();
    return ok;
  } catch (const std::exception&) {
    return false;
  }
}

ClientResponse http_call(const ServerAddress& a, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::function<bool(const nlohmann::json&)>& on_line) {
  net::io_context ioc;
  const std::string where = a.host + ":" + std::to_string(a.port);
  auto connect = [&](beast::tcp_stream& tcp) {
    beast::error_code ec;
    tcp.connect(endpoint(a), ec);
    if (ec)
      throw std::runtime_error("cannot reach the hearth server at " + where + ": " + ec.message());
  };
  if (!a.tls) {
    beast::tcp_stream stream(ioc);
    connect(stream);
    return exchange(stream, a, method, target, body, on_line);
  }
  auto ctx = tls_context();
  TlsStream stream(ioc, ctx);
  verify_name(stream, a);
  connect(beast::get_lowest_layer(stream));
  beast::error_code ec;
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) throw tls_failure(a, ec);
  return exchange(stream, a, method, target, body, on_line);
}

namespace {

template <class Stream>
ClientResponse exchange(Stream& stream, const ServerAddress& a, const std::string& method,
                        const std::string& target, const std::string& body,
                        const std::function<bool(const nlohmann::json&)>& on_line) {
  beast::error_code ec;
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, a.host + ":" + std::to_string(a.port));
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  // A server with API keys (hearth keys) wants one: HEARTH_API_KEY.
  if (const char* key = std::getenv("HEARTH_API_KEY"); key && *key)
    req.set(http::field::authorization, std::string("Bearer ") + key);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) throw std::runtime_error("hearth server: " + ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(1ull << 32);
  http::read_header(stream, buf, p, ec);
  if (ec) throw std::runtime_error("hearth server: " + ec.message());
  ClientResponse r;
  r.status = static_cast<int>(p.get().result_int());
  r.cache_hit = p.get()["X-Hearth-Cache"] == "hit";
  size_t consumed = 0;
  const bool lines = on_line && r.status == 200;
  while (!p.is_done()) {
    http::read_some(stream, buf, p, ec);
    if (ec) break;
    if (!lines) continue;
    auto& b = p.get().body();
    size_t nl;
    while ((nl = b.find('\n', consumed)) != std::string::npos) {
      const auto line = b.substr(consumed, nl - consumed);
      consumed = nl + 1;
      if (line.empty()) continue;
      if (!on_line(nlohmann::json::parse(line, nullptr, false))) {
        beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
        r.body = b;
        return r;
      }
    }
  }
  // A TLS peer that closes without close_notify after a complete answer
  // (stream_truncated) has sent everything the parser needed.
  if (ec && ec != http::error::end_of_stream &&
      !(ec == net::ssl::error::stream_truncated && p.is_done()))
    throw std::runtime_error("hearth server: " + ec.message());
  r.body = p.get().body();
  if (lines && consumed < r.body.size()) {
    const auto rest = r.body.substr(consumed);
    if (rest.find_first_not_of(" \r\n") != std::string::npos)
      on_line(nlohmann::json::parse(rest, nullptr, false));
  }
  return r;
}

}  // namespace

std::string error_message(const ClientResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  std::string m = j.is_object() && j.contains("error") && j["error"].is_string()
                      ? j["error"].get<std::string>()
                      : "HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : ": " + r.body);
  // The server speaks to every client; the terminal's user needs the CLI's way to give a key.
  if (r.status == 401)
    m += std::getenv("HEARTH_API_KEY") ? " (the key in HEARTH_API_KEY was refused)"
                                       : " (give the CLI one in HEARTH_API_KEY)";
  return m;
}

}  // namespace hearth::cli
