// The HTTP transport: Boost.Beast over Asio. Connections are asynchronous (an
// idle or slow client holds no thread), each on its own strand; handlers run
// on a separate pool so that tokenising or loading a model never blocks I/O.
// Beast's parser bounds the header and body sizes; a timer bounds how long a
// request may take to arrive. While a request is being answered the
// connection watches its socket, so a client that goes away is noticed at
// once, not at the next write.
//
// With a certificate (HttpOptions::tls_cert_file) every connection is TLS
// (OpenSSL through Asio's ssl::stream): the same code runs over either
// stream, Connection<Stream>; the handshake has header_timeout_s.
//
// A request is read in two steps: its header (async_read_header), then,
// depending on its path, either its whole body into a string (bounded by
// max_body_bytes) or nothing yet: a streamed body (POST to one of
// streamed_body_paths) is read by the strand only while the handler pulls it
// with Exchange::read_body. The two meet in a BodyPipe: the strand appends
// chunks of up to kBodyChunk bytes and stops reading once kBodyAhead bytes
// wait; the handler's thread takes them and asks the strand for more.
#include "server/http_connection.h"

namespace hearth::server {
namespace http_detail {

std::string json_error(const std::string& msg) {
  std::string out = "{\"error\":\"";
  for (char c : msg) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out + "\"}";
}

std::optional<std::string> framing_error(const http::request_header<>& h) {
  int lengths = 0, codings = 0;
  std::string_view coding;
  for (const auto& f : h) {
    if (f.name() == http::field::content_length) ++lengths;
    if (f.name() == http::field::transfer_encoding) {
      ++codings;
      coding = f.value();
    }
  }
  if (lengths && codings) return "both Content-Length and Transfer-Encoding";
  if (lengths > 1) return "more than one Content-Length";
  if (codings > 1) return "more than one Transfer-Encoding";
  if (codings && !beast::iequals(coding, "chunked"))
    return "unsupported Transfer-Encoding (only \"chunked\")";
  return std::nullopt;
}

// A streamed request body between the connection's strand (which appends)

void apply_headers(http::fields& f, const std::string& content_type, const Headers& extra) {
  if (!content_type.empty()) f.set(http::field::content_type, content_type);
  f.set(http::field::server, "hearth");
  for (const auto& [k, v] : extra) f.insert(k, v);
}

void ExchangeImpl::request_more() {
  net::post(conn_->executor(), [c = conn_, self = shared_from_this()] { c->read_body_some(self); });
}

size_t ExchangeImpl::read_body(char* buf, size_t cap) {
  if (!pipe_) {
    const size_t n = std::min(cap, req_.body.size() - body_taken_);
    std::memcpy(buf, req_.body.data() + body_taken_, n);
    body_taken_ += n;
    return n;
  }
  auto& p = *pipe_;
  std::unique_lock lk(p.mu);
  while (!p.error && p.queued == 0 && !p.end) {
    if (conn_->srv_.stopping) throw BodyError(503, "the server is stopping");
    if (!p.reading) {
      p.reading = true;
      request_more();
    }
    // In slices, to notice a server that stops (its I/O thread then reads no more).
    p.cv.wait_for(lk, std::chrono::milliseconds(250));
  }
  if (p.error) throw *p.error;
  size_t n = 0;
  while (n < cap && !p.chunks.empty()) {
    const std::string& front = p.chunks.front();
    const size_t k = std::min(cap - n, front.size() - p.offset);
    std::memcpy(buf + n, front.data() + p.offset, k);
    n += k;
    p.offset += k;
    if (p.offset == front.size()) {
      p.chunks.pop_front();
      p.offset = 0;
    }
  }
  p.queued -= n;
  if (!p.reading && !p.end && p.queued < kBodyAhead) {
    p.reading = true;
    request_more();
  }
  return n;
}

void ExchangeImpl::respond(int status, std::string content_type, std::string body, Headers extra) {
  if (!claim()) return;
  status_ = status;
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status),
                                                                 version_);
  apply_headers(res->base(), content_type, extra);
  apply_headers(res->base(), "", req_.response_headers);
  res->keep_alive(keep_alive_);
  res->body() = std::move(body);
  res->prepare_payload();
  if (req_.method == "HEAD") res->body().clear();
  auto self = shared_from_this();
  net::post(conn_->executor(), [c = conn_, self, res] { c->send_whole(self, res); });
}

void ExchangeImpl::begin_stream(int status, std::string content_type, Headers extra) {
  if (!claim()) return;
  status_ = status;
  streaming_ = true;
  auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(status),
                                                                version_);
  apply_headers(res->base(), content_type, extra);
  apply_headers(res->base(), "", req_.response_headers);
  res->keep_alive(keep_alive_);
  res->chunked(true);
  auto self = shared_from_this();
  net::post(conn_->executor(), [c = conn_, self, res] { c->send_header(self, res); });
}

void ExchangeImpl::write(std::string chunk) {
  if (!streaming_ || ended_) return;
  auto self = shared_from_this();
  net::post(conn_->executor(), [c = conn_, self, chunk = std::move(chunk)]() mutable {
    c->queue_chunk(self, std::move(chunk), false);
  });
}

void ExchangeImpl::end_stream() {
  if (!streaming_ || ended_.exchange(true)) return;
  auto self = shared_from_this();
  net::post(conn_->executor(), [c = conn_, self] { c->queue_chunk(self, {}, true); });
}

}  // namespace http_detail

using namespace http_detail;

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      beast::error_code rec;
      const auto ep = s.remote_endpoint(rec);
      std::string peer = rec ? "" : ep.address().to_string();
      bool over = connections.load() >= o.max_connections;
      if (!over) {
        std::lock_guard lk(per_client_mu);
        int& n = per_client[peer];
        over = n >= o.max_connections_per_client;
        if (!over)
          ++n;
        else if (n == 0)
          per_client.erase(peer);
      }
      if (over) {
        beast::error_code ignored;
        s.close(ignored);  // over a limit: refused at once rather than queued
      } else {
        ++connections;
        if (tls)
          start_tls_connection(std::move(s), *this, std::move(peer));
        else
          start_plain_connection(std::move(s), *this, std::move(peer));
      }
    }
    accept();
  });
}

HttpServer::HttpServer(HttpOptions o, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->o = o;
  impl_->handler = std::move(handler);
  impl_->work = std::make_unique<net::thread_pool>(std::max(1, o.work_threads));
  beast::error_code ec;
  if (!o.tls_cert_file.empty()) {
    // TLS 1.2 and later only; the files are read now, before any sandbox.
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    ctx->use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec)
      throw std::runtime_error("cannot use the TLS certificate '" + o.tls_cert_file +
                               "': " + ec.message());
    ctx->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot use the TLS key '" + o.tls_key_file + "': " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      throw std::runtime_error("the TLS key '" + o.tls_key_file +
                               "' does not belong to the certificate '" + o.tls_cert_file + "'");
    impl_->tls = std::move(ctx);
  }
  const auto addr = net::ip::make_address(o.host, ec);
  if (ec) throw std::runtime_error("'" + o.host + "' is not an IP address to listen on");
  const tcp::endpoint ep(addr, o.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                             ec.message());
  impl_->accept();
}

HttpServer::~HttpServer() {
  stop();
  join_handlers();
}

void HttpServer::join_handlers() { impl_->work->join(); }

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->o.io_threads; ++i) extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
}

void HttpServer::stop() {
  impl_->stopping = true;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->ioc.stop();
}

}  // namespace hearth::server
