// The HTTP transport: Boost.Beast over Asio. Connections are asynchronous (an
// idle or slow client holds no thread), each on its own strand; handlers run
// on a separate pool so that tokenising or loading a model never blocks I/O.
// Beast's parser bounds the header and body sizes; a timer bounds how long a
// request may take to arrive. While a request is being answered the
// connection watches its socket, so a client that goes away is noticed at
// once, not at the next write.
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <deque>
#include <mutex>
#include <thread>

#include "server/http.h"

namespace hearth::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::optional<std::string> HttpRequest::header(const std::string& name, int* count) const {
  std::optional<std::string> v;
  int n = 0;
  for (const auto& [k, val] : headers)
    if (k == name) {
      if (!v) v = val;
      ++n;
    }
  if (count) *count = n;
  return v;
}

std::optional<std::string> normalize_path(const std::string& raw) {
  if (raw.empty() || raw[0] != '/') return std::nullopt;
  std::string decoded;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%') {
      if (i + 2 >= raw.size() || !std::isxdigit(static_cast<unsigned char>(raw[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(raw[i + 2])))
        return std::nullopt;
      decoded.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      decoded.push_back(raw[i]);
    }
  }
  if (decoded.find('\0') != std::string::npos) return std::nullopt;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= decoded.size()) {
    size_t j = decoded.find('/', i);
    if (j == std::string::npos) j = decoded.size();
    const std::string part = decoded.substr(i, j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  if (out.empty()) out = "/";
  return out;
}

struct HttpServer::Impl {
  HttpOptions o;
  Handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<net::thread_pool> work;
  std::atomic<int> connections{0};
  void accept();
};

namespace {

std::string json_error(const std::string& msg) {
  std::string out = "{\"error\":\"";
  for (char c : msg) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out + "\"}";
}

class Connection;

class ExchangeImpl final : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(std::shared_ptr<Connection> c, HttpRequest req, bool keep_alive, unsigned version)
      : conn_(std::move(c)), req_(std::move(req)), keep_alive_(keep_alive), version_(version) {}

  const HttpRequest& request() const override { return req_; }
  void respond(int status, std::string content_type, std::string body, Headers extra) override;
  void begin_stream(int status, std::string content_type, Headers extra) override;
  void write(std::string chunk) override;
  void end_stream() override;
  void on_disconnect(std::function<void()> f) override {
    std::unique_lock lk(mu_);
    if (gone_) {
      lk.unlock();
      f();
      return;
    }
    on_gone_.push_back(std::move(f));
  }
  bool disconnected() const override { return gone_; }

  // From the connection.
  void mark_gone() {
    std::vector<std::function<void()>> fs;
    {
      std::lock_guard lk(mu_);
      if (gone_) return;
      gone_ = true;
      fs.swap(on_gone_);
    }
    for (auto& f : fs) f();
  }
  bool keep_alive() const { return keep_alive_; }
  unsigned version() const { return version_; }

 private:
  bool claim() {  // the first answer wins
    bool expected = false;
    return answered_.compare_exchange_strong(expected, true);
  }
  std::shared_ptr<Connection> conn_;
  HttpRequest req_;
  bool keep_alive_;
  unsigned version_;
  std::atomic<bool> answered_{false}, streaming_{false}, ended_{false}, gone_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> on_gone_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket s, HttpServer::Impl& srv) : stream_(std::move(s)), srv_(srv) {}
  ~Connection() { --srv_.connections; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  // ---- called through post() onto the connection's strand
  void send_whole(std::shared_ptr<ExchangeImpl> ex,
                  std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(std::chrono::seconds(srv_.o.idle_timeout_s));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), ex, res](beast::error_code ec, size_t) {
                        self->after_response(ex, ec);
                      });
  }

  void send_header(std::shared_ptr<ExchangeImpl> ex,
                   std::shared_ptr<http::response<http::empty_body>> res) {
    stream_res_ = res;
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*res);
    writing_ = true;
    stream_.expires_after(std::chrono::seconds(srv_.o.idle_timeout_s));
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this(), ex](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->fail(ex);
                               self->pump(ex);
                             });
  }

  void queue_chunk(std::shared_ptr<ExchangeImpl> ex, std::string chunk, bool last) {
    if (last)
      end_queued_ = true;
    else if (!chunk.empty())
      chunks_.push_back(std::move(chunk));
    if (!writing_) pump(ex);
  }

 private:
  void pump(std::shared_ptr<ExchangeImpl> ex) {
    if (writing_ || failed_) return;
    if (!chunks_.empty()) {
      // Everything queued goes out as one chunk.
      auto data = std::make_shared<std::string>();
      while (!chunks_.empty()) {
        *data += chunks_.front();
        chunks_.pop_front();
      }
      writing_ = true;
      stream_.expires_after(std::chrono::seconds(srv_.o.idle_timeout_s));
      net::async_write(stream_, http::make_chunk(net::buffer(*data)),
                       [self = shared_from_this(), ex, data](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) return self->fail(ex);
                         self->pump(ex);
                       });
      return;
    }
    if (end_queued_) {
      end_queued_ = false;
      writing_ = true;
      net::async_write(stream_, http::make_chunk_last(),
                       [self = shared_from_this(), ex](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         self->serializer_.reset();
                         self->stream_res_.reset();
                         self->after_response(ex, ec);
                       });
    }
  }

  void fail(std::shared_ptr<ExchangeImpl> ex) {
    failed_ = true;
    chunks_.clear();
    ex->mark_gone();
    close();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  void after_response(std::shared_ptr<ExchangeImpl> ex, beast::error_code ec) {
    ++generation_;  // the disconnect watch of this exchange is over
    if (ec || !ex->keep_alive() || ex->disconnected()) {
      if (ec) ex->mark_gone();
      return close();
    }
    read_request();
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_.o.max_header_bytes));
    parser_->body_limit(srv_.o.max_body_bytes);
    stream_.expires_after(std::chrono::seconds(srv_.o.idle_timeout_s));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void reply_error_and_close(http::status status, const std::string& msg) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "application/json; charset=utf-8");
    res->set(http::field::connection, "close");
    res->body() = json_error(msg);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      self->close();
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return close();
    if (ec == http::error::body_limit)
      return reply_error_and_close(
          http::status::payload_too_large,
          "request body larger than " + std::to_string(srv_.o.max_body_bytes) + " bytes");
    if (ec == http::error::header_limit)
      return reply_error_and_close(http::status::request_header_fields_too_large,
                                   "request headers too large");
    if (ec == beast::error::timeout) return close();
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_method).category())
        return reply_error_and_close(http::status::bad_request,
                                     "malformed HTTP request: " + ec.message());
      return close();
    }
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const auto q = req.target.find('?');
    auto path = normalize_path(req.target.substr(0, q));
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    beast::error_code rec;
    const auto ep = stream_.socket().remote_endpoint(rec);
    if (!rec) req.remote = ep.address().to_string();
    if (!path) return reply_error_and_close(http::status::bad_request, "invalid request path");
    req.path = *path;
    const bool keep = msg.keep_alive();
    const unsigned version = msg.version();
    parser_.reset();
    stream_.expires_never();
    auto ex = std::make_shared<ExchangeImpl>(shared_from_this(), std::move(req), keep, version);
    watch(ex);
    net::post(*srv_.work, [h = srv_.handler, ex] {
      try {
        h(ex);
      } catch (const std::exception& e) {
        ex->respond(500, "application/json; charset=utf-8", json_error(e.what()), {});
      }
    });
  }

  // Notices a client that closes its side while its request is being answered.
  void watch(std::shared_ptr<ExchangeImpl> ex) {
    const uint64_t gen = generation_;
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this(), ex, gen](beast::error_code ec) {
          if (gen != self->generation_ || ec) return;
          char c;
          const ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            ex->mark_gone();
            if (!self->writing_) self->close();
          }
          // n > 0: the client sent its next request already; it is read after this answer.
        });
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::empty_body>> stream_res_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::deque<std::string> chunks_;
  bool writing_ = false, end_queued_ = false, failed_ = false;
  uint64_t generation_ = 0;

  friend class ExchangeImpl;
};

void apply_headers(http::fields& f, const std::string& content_type, const Headers& extra) {
  if (!content_type.empty()) f.set(http::field::content_type, content_type);
  f.set(http::field::server, "hearth");
  for (const auto& [k, v] : extra) f.insert(k, v);
}

void ExchangeImpl::respond(int status, std::string content_type, std::string body, Headers extra) {
  if (!claim()) return;
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status),
                                                                 version_);
  apply_headers(res->base(), content_type, extra);
  res->keep_alive(keep_alive_);
  res->body() = std::move(body);
  res->prepare_payload();
  if (req_.method == "HEAD") res->body().clear();
  auto self = shared_from_this();
  net::post(conn_->stream_.get_executor(), [c = conn_, self, res] { c->send_whole(self, res); });
}

void ExchangeImpl::begin_stream(int status, std::string content_type, Headers extra) {
  if (!claim()) return;
  streaming_ = true;
  auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(status),
                                                                version_);
  apply_headers(res->base(), content_type, extra);
  res->keep_alive(keep_alive_);
  res->chunked(true);
  auto self = shared_from_this();
  net::post(conn_->stream_.get_executor(), [c = conn_, self, res] { c->send_header(self, res); });
}

void ExchangeImpl::write(std::string chunk) {
  if (!streaming_ || ended_) return;
  auto self = shared_from_this();
  net::post(conn_->stream_.get_executor(), [c = conn_, self, chunk = std::move(chunk)]() mutable {
    c->queue_chunk(self, std::move(chunk), false);
  });
}

void ExchangeImpl::end_stream() {
  if (!streaming_ || ended_.exchange(true)) return;
  auto self = shared_from_this();
  net::post(conn_->stream_.get_executor(), [c = conn_, self] { c->queue_chunk(self, {}, true); });
}

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      if (connections.load() >= o.max_connections) {
        beast::error_code ignored;
        s.close(ignored);  // over the limit: refused at once rather than queued
      } else {
        ++connections;
        std::make_shared<Connection>(std::move(s), *this)->start();
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
  impl_->work->join();
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->o.io_threads; ++i) extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
}

void HttpServer::stop() {
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->ioc.stop();
}

}  // namespace hearth::server
