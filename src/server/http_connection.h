// Inside the HTTP transport, shared by http_server.cpp (the listener, the
// exchanges) and http_connection_{tcp,tls}.cpp (a connection's I/O over each
// kind of stream). Nothing outside those three files includes it: the
// module's contract is http.h.
//
// Connection<Stream> is one template over a plain TCP stream and a TLS
// stream. Each instantiation is compiled in a file of its own, so the two
// build in parallel: in one file, Beast's and Asio's composed operations over
// both streams took longer to compile than the rest of the server together.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "server/http.h"

namespace hearth::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;
// Asio's SSL stream straight over the TCP stream (not beast::ssl_stream,
// whose flat_stream layer merges a write's buffers into one TLS record: a
// streamed chunk goes out as up to three records instead, and the layer cost
// a quarter of this file's compile time).
using TlsStream = ssl::stream<beast::tcp_stream>;

struct HttpServer::Impl {
  HttpOptions o;
  Handler handler;
  std::atomic<int> connections{0};
  std::mutex per_client_mu;
  std::unordered_map<std::string, int> per_client;  // open connections by peer address
  std::atomic<bool> stopping{false};                // wakes handlers blocked in read_body
  std::unique_ptr<ssl::context> tls;                // null: plain HTTP
  // Declared last, so destroyed first: handlers still queued in the stopped
  // io_context own connections, whose destructors use the members above.
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<net::thread_pool> work;
  void accept();
};

namespace http_detail {

constexpr size_t kBodyChunk = 256 << 10;  // bytes of a streamed body per read
constexpr size_t kBodyAhead = 4 << 20;    // read ahead of the handler at most this

// `msg` as {"error": msg}, quotes and backslashes escaped, control characters dropped.
std::string json_error(const std::string& msg);

class ExchangeImpl;

// What an exchange asks of its connection, whichever stream it runs on.
// Each call is posted to executor() (the connection's strand).
class ConnectionBase {
 public:
  explicit ConnectionBase(HttpServer::Impl& srv) : srv_(srv) {}
  virtual ~ConnectionBase() = default;
  virtual net::any_io_executor executor() = 0;
  virtual void send_whole(std::shared_ptr<ExchangeImpl> ex,
                          std::shared_ptr<http::response<http::string_body>> res) = 0;
  virtual void send_header(std::shared_ptr<ExchangeImpl> ex,
                           std::shared_ptr<http::response<http::empty_body>> res) = 0;
  virtual void queue_chunk(std::shared_ptr<ExchangeImpl> ex, std::string chunk, bool last) = 0;
  virtual void read_body_some(std::shared_ptr<ExchangeImpl> ex) = 0;

  HttpServer::Impl& srv_;
};

// Request framing that a proxy in front might read differently (smuggling):
// both Content-Length and Transfer-Encoding, more than one of either, a
// coding other than exactly "chunked". Beast refuses malformed lengths and
// chunk sizes itself (bad_content_length, bad_chunk).
std::optional<std::string> framing_error(const http::request_header<>& h);

// and the handler's thread (which takes). Guarded by `mu`.
struct BodyPipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  size_t offset = 0;               // bytes of chunks.front() already taken
  size_t queued = 0;               // bytes in chunks not yet taken
  bool reading = false;            // the strand has a read in flight (or one posted)
  bool end = false;                // the body's last bytes are in chunks
  std::optional<BodyError> error;  // no more bytes will come, and why
};

class ExchangeImpl final : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(std::shared_ptr<ConnectionBase> c, HttpRequest req, bool keep_alive,
               unsigned version, bool streamed)
      : conn_(std::move(c)), req_(std::move(req)), keep_alive_(keep_alive), version_(version) {
    if (streamed) pipe_ = std::make_unique<BodyPipe>();
  }

  const HttpRequest& request() const override { return req_; }
  size_t read_body(char* buf, size_t cap) override;
  bool body_streamed() const override { return pipe_ != nullptr; }
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
    fail_body(BodyError(400, "the client closed the connection before sending the whole body"));
    for (auto& f : fs) f();
  }
  // From the strand: a piece of a streamed body (`end`: the last). Returns
  // whether the strand should read on.
  bool push_body(std::string chunk, bool end) {
    std::lock_guard lk(pipe_->mu);
    auto& p = *pipe_;
    if (!chunk.empty()) {
      p.queued += chunk.size();
      p.chunks.push_back(std::move(chunk));
    }
    p.end = end;
    p.reading = !end && !p.error && p.queued < kBodyAhead;
    p.cv.notify_all();
    return p.reading;
  }
  // No more of the body will come (ignored once it all came).
  void fail_body(BodyError why) {
    if (!pipe_) return;
    std::lock_guard lk(pipe_->mu);
    if (pipe_->end || pipe_->error) return;
    pipe_->error = std::move(why);
    pipe_->reading = false;
    pipe_->cv.notify_all();
  }
  bool keep_alive() const { return keep_alive_; }
  unsigned version() const { return version_; }
  int status() const { return status_; }

 private:
  bool claim() {  // the first answer wins
    bool expected = false;
    return answered_.compare_exchange_strong(expected, true);
  }
  void request_more();  // posts a body read to the strand; with pipe_->mu held

  std::shared_ptr<ConnectionBase> conn_;
  HttpRequest req_;
  std::unique_ptr<BodyPipe> pipe_;  // null: the body is in req_.body
  size_t body_taken_ = 0;           // of req_.body, by read_body
  bool keep_alive_;
  unsigned version_;
  std::atomic<int> status_{0};  // what was answered
  std::atomic<bool> answered_{false}, streaming_{false}, ended_{false}, gone_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> on_gone_;
};

template <class Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Connection(tcp::socket s, HttpServer::Impl& srv, std::string peer)
      : ConnectionBase(srv), stream_(make_stream(std::move(s), srv)), peer_(std::move(peer)) {}
  ~Connection() override { release(); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        // A client that opens a connection and never finishes the handshake
        // holds it no longer than a slow header would.
        self->layer().expires_after(std::chrono::seconds(self->srv_.o.header_timeout_s));
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();
          self->read_request();
        });
      } else {
        self->read_request();
      }
    });
  }

  net::any_io_executor executor() override { return stream_.get_executor(); }

  // ---- called through post() onto the connection's strand
  void send_whole(std::shared_ptr<ExchangeImpl> ex,
                  std::shared_ptr<http::response<http::string_body>> res) override {
    layer().expires_after(std::chrono::seconds(srv_.o.write_timeout_s));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), ex, res](beast::error_code ec, size_t) {
                        self->after_response(ex, ec);
                      });
  }

  void send_header(std::shared_ptr<ExchangeImpl> ex,
                   std::shared_ptr<http::response<http::empty_body>> res) override {
    stream_res_ = res;
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*res);
    writing_ = true;
    layer().expires_after(std::chrono::seconds(srv_.o.write_timeout_s));
    http::async_write_header(stream_, *serializer_,
                             [self = this->shared_from_this(), ex](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->fail(ex);
                               self->pump(ex);
                             });
  }

  void queue_chunk(std::shared_ptr<ExchangeImpl> ex, std::string chunk, bool last) override {
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
      layer().expires_after(std::chrono::seconds(srv_.o.write_timeout_s));
      net::async_write(stream_, http::make_chunk(net::buffer(*data)),
                       [self = this->shared_from_this(), ex, data](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) return self->fail(ex);
                         self->pump(ex);
                       });
      return;
    }
    if (end_queued_) {
      end_queued_ = false;
      writing_ = true;
      layer().expires_after(std::chrono::seconds(srv_.o.write_timeout_s));
      net::async_write(stream_, http::make_chunk_last(),
                       [self = this->shared_from_this(), ex](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         self->serializer_.reset();
                         self->stream_res_.reset();
                         self->after_response(ex, ec);
                       });
    }
  }

  void fail(std::shared_ptr<ExchangeImpl> ex) {
    if (!failed_ && srv_.o.on_answered) srv_.o.on_answered(ex->request(), ex->status());
    failed_ = true;
    chunks_.clear();
    ex->mark_gone();
    close();
  }

  void close() {
    beast::error_code ec;
    layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    layer().close();
    release();
  }

  // The connection no longer counts against the limits once its socket is
  // closed (its object may live on while a handler finishes).
  void release() {
    if (released_.exchange(true)) return;
    --srv_.connections;
    std::lock_guard lk(srv_.per_client_mu);
    if (auto it = srv_.per_client.find(peer_); it != srv_.per_client.end() && --it->second <= 0)
      srv_.per_client.erase(it);
  }

  void after_response(std::shared_ptr<ExchangeImpl> ex, beast::error_code ec) {
    ++generation_;  // the disconnect watch of this exchange is over
    if (srv_.o.on_answered) srv_.o.on_answered(ex->request(), ex->status());
    // A body the handler did not read to its end leaves the connection unusable.
    if (ec || !ex->keep_alive() || ex->disconnected() || !body_done_ ||
        ++served_ >= srv_.o.max_requests_per_connection) {
      if (ec) ex->mark_gone();
      return close();
    }
    read_request();
  }

  // A keep-alive connection may wait idle_timeout_s for a request's first
  // bytes; from then on its header has header_timeout_s (slowloris).
  void read_request() {
    body_done_ = true;
    if (buffer_.size() > 0) return read_header();
    layer().expires_after(std::chrono::seconds(srv_.o.idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    error_path_.clear();
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<uint32_t>(srv_.o.max_header_bytes));
    header_parser_->body_limit(boost::none);  // checked in on_header, once the path is known
    layer().expires_after(std::chrono::seconds(srv_.o.header_timeout_s));
    http::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void reply_error_and_close(http::status status, const std::string& msg,
                             const Headers& extra = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "hearth");
    if (status != http::status::no_content) {
      res->set(http::field::content_type, "application/json; charset=utf-8");
      res->body() = srv_.o.error_body
                        ? srv_.o.error_body(error_path_, static_cast<int>(status), msg)
                        : json_error(msg);
    }
    for (const auto& [k, v] : extra) res->insert(k, v);
    res->set(http::field::connection, "close");
    res->prepare_payload();
    layer().expires_after(std::chrono::seconds(5));
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](beast::error_code, size_t) { self->close(); });
  }

  // A failed read of a header or a buffered body: answered when it is the
  // client's mistake, else the connection is closed.
  void read_failed(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return close();
    if (ec == http::error::body_limit)
      return reply_error_and_close(
          http::status::payload_too_large,
          "request body larger than " + std::to_string(srv_.o.max_body_bytes) + " bytes");
    if (ec == http::error::header_limit)
      return reply_error_and_close(http::status::request_header_fields_too_large,
                                   "request headers too large");
    // A header that began but did not end in time (slowloris): the stream
    // closed the socket when its deadline passed, so there is no one to answer.
    if (ec == beast::error::timeout) return close();
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
      return reply_error_and_close(http::status::bad_request,
                                   "malformed HTTP request: " + ec.message());
    close();
  }

  void on_header(beast::error_code ec) {
    if (ec) return read_failed(ec);
    auto& msg = header_parser_->get();
    if (msg.target().size() > srv_.o.max_uri_bytes)
      return reply_error_and_close(http::status::uri_too_long, "request target too long");
    if (auto why = framing_error(msg))
      return reply_error_and_close(http::status::bad_request, *why);
    auto req = std::make_shared<HttpRequest>();
    req->method = std::string(msg.method_string());
    req->target = std::string(msg.target());
    const auto q = req->target.find('?');
    auto path = normalize_path(req->target.substr(0, q));
    if (q != std::string::npos) req->query = req->target.substr(q + 1);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req->headers.emplace_back(std::move(name), std::string(f.value()));
    }
    beast::error_code rec;
    const auto ep = layer().socket().remote_endpoint(rec);
    if (!rec) req->remote = ep.address().to_string();
    if (!path) return reply_error_and_close(http::status::bad_request, "invalid request path");
    req->path = *path;
    error_path_ = req->path;
    if (srv_.o.admit)
      if (auto no = srv_.o.admit(*req)) {
        if (srv_.o.on_answered) srv_.o.on_answered(*req, no->status);
        return reply_error_and_close(static_cast<http::status>(no->status), no->message,
                                     no->headers);
      }
    bool streamed = false;
    if (msg.method() == http::verb::post)
      for (const auto& prefix : srv_.o.streamed_body_paths)
        if (req->path.rfind(prefix, 0) == 0) streamed = true;
    const uint64_t limit = streamed ? srv_.o.max_blob_bytes : srv_.o.max_body_bytes;
    if (const auto len = header_parser_->content_length(); len && *len > limit)
      return reply_error_and_close(http::status::payload_too_large,
                                   "request body larger than " + std::to_string(limit) + " bytes");
    const bool expects_continue =
        beast::iequals(msg[http::field::expect], "100-continue") && !header_parser_->is_done();
    auto next = [self = this->shared_from_this(), req, streamed] {
      self->after_header(req, streamed);
    };
    if (!expects_continue) return next();
    // The client waits for a go-ahead before it sends the body (curl does for big uploads).
    auto res =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, msg.version());
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, next](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        next();
                      });
  }

  void after_header(std::shared_ptr<HttpRequest> req, bool streamed) {
    // The last request a connection serves says so (Connection: close), so that
    // a client does not send another one into a closing socket.
    const bool keep =
        header_parser_->keep_alive() && served_ + 1 < srv_.o.max_requests_per_connection;
    const unsigned version = header_parser_->get().version();
    if (streamed) {
      body_parser_.emplace(std::move(*header_parser_));
      header_parser_.reset();
      body_parser_->body_limit(srv_.o.max_blob_bytes);  // a chunked body has no Content-Length
      body_done_ = body_parser_->is_done();
      return dispatch(std::move(*req), keep, version, true);
    }
    string_parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    string_parser_->body_limit(srv_.o.max_body_bytes);
    if (string_parser_->is_done()) return on_body_read(req, keep, version, {});
    // At least min_body_bytes_per_s (a chunked body: as if it were max_body_bytes).
    const uint64_t len = string_parser_->content_length().value_or(srv_.o.max_body_bytes);
    layer().expires_after(std::chrono::seconds(
        srv_.o.header_timeout_s + len / std::max<uint64_t>(1, srv_.o.min_body_bytes_per_s)));
    http::async_read(
        stream_, buffer_, *string_parser_,
        [self = this->shared_from_this(), req, keep, version](beast::error_code ec, size_t) {
          self->on_body_read(req, keep, version, ec);
        });
  }

  void on_body_read(std::shared_ptr<HttpRequest> req, bool keep, unsigned version,
                    beast::error_code ec) {
    if (ec) return read_failed(ec);
    req->body = std::move(string_parser_->get().body());
    string_parser_.reset();
    dispatch(std::move(*req), keep, version, false);
  }

  void dispatch(HttpRequest req, bool keep, unsigned version, bool streamed) {
    layer().expires_never();
    auto ex = std::make_shared<ExchangeImpl>(this->shared_from_this(), std::move(req), keep,
                                             version, streamed);
    if (streamed) body_owner_ = ex.get();
    if (streamed && body_done_) ex->push_body({}, true);  // an empty body
    // While a streamed body is being read the socket is not watched: a read
    // error says that the client went away.
    if (body_done_) watch(ex);
    net::post(*srv_.work, [h = srv_.handler, ex] {
      try {
        h(ex);
      } catch (const std::exception& e) {
        ex->respond(500, "application/json; charset=utf-8", json_error(e.what()), {});
      }
    });
  }

  // ---- a streamed body, on the strand (ExchangeImpl::request_more posts here)
  void read_body_some(std::shared_ptr<ExchangeImpl> ex) override {
    if (body_done_ || !body_parser_ || ex.get() != body_owner_) return;
    auto chunk = std::make_shared<std::string>(kBodyChunk, '\0');
    auto& b = body_parser_->get().body();
    b.data = chunk->data();
    b.size = chunk->size();
    b.more = true;
    layer().expires_after(std::chrono::seconds(srv_.o.read_timeout_s));
    http::async_read_some(stream_, buffer_, *body_parser_,
                          [self = this->shared_from_this(), ex, chunk](
                              beast::error_code ec, size_t) { self->on_body_some(ex, chunk, ec); });
  }

  void on_body_some(std::shared_ptr<ExchangeImpl> ex, std::shared_ptr<std::string> chunk,
                    beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};  // the chunk is full
    chunk->resize(kBodyChunk - body_parser_->get().body().size);
    body_parser_->get().body().data = nullptr;
    if (ec) {
      if (ec == http::error::body_limit) {
        // The handler answers 413; the connection closes after that answer.
        layer().expires_never();
        return ex->fail_body(BodyError(
            413, "request body larger than " + std::to_string(srv_.o.max_blob_bytes) + " bytes"));
      }
      if (ec == beast::error::timeout)
        ex->fail_body(BodyError(408, "no bytes of the request body for " +
                                         std::to_string(srv_.o.read_timeout_s) + " s"));
      else if (ec == http::error::partial_message || ec == net::error::eof ||
               ec == net::error::connection_reset)
        ex->fail_body(
            BodyError(400, "the client closed the connection before sending the whole body"));
      else
        ex->fail_body(BodyError(400, "malformed request body: " + ec.message()));
      ex->mark_gone();
      return close();
    }
    const bool done = body_parser_->is_done();
    if (done) {
      body_done_ = true;
      layer().expires_never();
      watch(ex);
    }
    if (ex->push_body(std::move(*chunk), done))
      read_body_some(ex);
    else if (!done)
      layer().expires_never();  // the handler is behind: wait for it, not for the client
  }

  // Notices a client that closes its side while its request is being answered.
  void watch(std::shared_ptr<ExchangeImpl> ex) {
    const uint64_t gen = generation_;
    layer().socket().async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this(), ex, gen](beast::error_code ec) {
          if (gen != self->generation_ || ec) return;
          char c;
          const ssize_t n =
              ::recv(self->layer().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            ex->mark_gone();
            if (!self->writing_) self->close();
          }
          // n > 0: the client sent its next request already; it is read after this answer.
        });
  }

  static Stream make_stream(tcp::socket s, HttpServer::Impl& srv) {
    if constexpr (kTls)
      return Stream(beast::tcp_stream(std::move(s)), *srv.tls);
    else
      return Stream(std::move(s));
  }
  beast::tcp_stream& layer() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  std::string peer_;                   // the client's address
  std::atomic<bool> released_{false};  // counted out of the limits (release())
  int served_ = 0;                     // requests answered on this connection
  std::string error_path_;             // the current request's path, for error_body
  beast::flat_buffer buffer_;
  // One request at a time: its header, then its body buffered or streamed.
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> string_parser_;
  std::optional<http::request_parser<http::buffer_body>> body_parser_;
  bool body_done_ = true;                     // the request's body has been read to its end
  const ExchangeImpl* body_owner_ = nullptr;  // whose body body_parser_ reads
  std::shared_ptr<http::response<http::empty_body>> stream_res_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::deque<std::string> chunks_;
  bool writing_ = false, end_queued_ = false, failed_ = false;
  uint64_t generation_ = 0;
};

// Serves an accepted connection until it closes (each in its own file).
void start_plain_connection(tcp::socket s, HttpServer::Impl& srv, std::string peer);
void start_tls_connection(tcp::socket s, HttpServer::Impl& srv, std::string peer);

}  // namespace http_detail
}  // namespace hearth::server
