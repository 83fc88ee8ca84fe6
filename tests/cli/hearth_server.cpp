// The integration tests' HTTP client (hearth_server.h): one Boost.Beast
// exchange, compiled once for every test program.
#include "cli/hearth_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace hearth::test {

HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers,
                          std::function<bool(const std::string&)> on_chunk) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                static_cast<unsigned short>(port)));
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  bool has_type = false;
  for (auto& [k, v] : headers) {
    req.insert(k, v);
    if (k == "Content-Type") has_type = true;
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  stream.expires_after(std::chrono::seconds(120));
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(1ull << 30);
  HttpResponse r;
  if (method == "HEAD") p.skip(true);  // a HEAD answer has headers only
  http::read_header(stream, buf, p);
  size_t seen = 0;
  while (!p.is_done()) {
    beast::error_code ec;
    http::read_some(stream, buf, p, ec);
    if (ec) break;
    const auto& b = p.get().body();
    if (on_chunk && b.size() > seen) {
      seen = b.size();
      if (!on_chunk(b)) {
        beast::error_code ig;
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ig);
        stream.close();
        break;
      }
    }
  }
  auto& msg = p.get();
  r.status = static_cast<int>(msg.result_int());
  r.body = msg.body();
  for (const auto& f : msg) {
    std::string k(f.name_string());
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[k] = std::string(f.value());
  }
  return r;
}

}  // namespace hearth::test
