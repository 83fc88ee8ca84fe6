#include "cli/client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <stdexcept>

namespace hearth::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

void parse_host(std::string s, std::string& host, int& port) {
  if (auto p = s.find("://"); p != std::string::npos) s = s.substr(p + 3);
  if (!s.empty() && s.back() == '/') s.pop_back();
  auto to_port = [](const std::string& t) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(t, &used);
    } catch (const std::exception&) {
    }
    if (used != t.size() || v < 0 || v > 65535)
      throw std::invalid_argument("HEARTH_HOST: '" + t + "' is not a port");
    return v;
  };
  if (!s.empty() && s[0] == '[') {  // [::1]:port
    const auto close = s.find(']');
    if (close == std::string::npos) throw std::invalid_argument("HEARTH_HOST: bad address " + s);
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

ServerAddress server_address() {
  ServerAddress a;
  if (const char* h = std::getenv("HEARTH_HOST"); h && *h) {
    parse_host(h, a.host, a.port);
    a.explicit_ = true;
  }
  if (a.host == "0.0.0.0") a.host = "127.0.0.1";  // listening everywhere: reach it locally
  if (a.host == "localhost") a.host = "127.0.0.1";
  return a;
}

namespace {

net::ip::tcp::endpoint endpoint(const ServerAddress& a) {
  beast::error_code ec;
  const auto addr = net::ip::make_address(a.host, ec);
  if (ec) throw std::runtime_error("HEARTH_HOST: '" + a.host + "' is not an IP address");
  return {addr, static_cast<unsigned short>(a.port)};
}

}  // namespace

bool server_answers(const ServerAddress& a, int timeout_ms) {
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    bool ok = false;
    stream.async_connect(endpoint(a), [&](beast::error_code ec) {
      if (ec) return;
      auto req =
          std::make_shared<http::request<http::empty_body>>(http::verb::get, "/health", 11);
      req->set(http::field::host, a.host);
      http::async_write(stream, *req, [&, req](beast::error_code ec2, size_t) {
        if (ec2) return;
        auto buf = std::make_shared<beast::flat_buffer>();
        auto res = std::make_shared<http::response<http::string_body>>();
        http::async_read(stream, *buf, *res, [&, buf, res](beast::error_code ec3, size_t) {
          ok = !ec3 && res->result_int() == 200;
        });
      });
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
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.connect(endpoint(a), ec);
  if (ec)
    throw std::runtime_error("cannot reach the hearth server at " + a.host + ":" +
                             std::to_string(a.port) + ": " + ec.message());
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
        stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
        r.body = b;
        return r;
      }
    }
  }
  if (ec && ec != http::error::end_of_stream)
    throw std::runtime_error("hearth server: " + ec.message());
  r.body = p.get().body();
  if (lines && consumed < r.body.size()) {
    const auto rest = r.body.substr(consumed);
    if (rest.find_first_not_of(" \r\n") != std::string::npos)
      on_line(nlohmann::json::parse(rest, nullptr, false));
  }
  return r;
}

std::string error_message(const ClientResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"];
  return "HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : ": " + r.body);
}

}  // namespace hearth::cli
