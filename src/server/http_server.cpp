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
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
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
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct HttpServer::Impl {
  HttpOptions o;
  Handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<net::thread_pool> work;
  std::atomic<int> connections{0};
  std::mutex per_client_mu;
  std::unordered_map<std::string, int> per_client;  // open connections by peer address
  std::atomic<bool> stopping{false};                // wakes handlers blocked in read_body
  std::unique_ptr<ssl::context> tls;                // null: plain HTTP
  void accept();
};

namespace {

constexpr size_t kBodyChunk = 256 << 10;  // bytes of a streamed body per read
constexpr size_t kBodyAhead = 4 << 20;    // read ahead of the handler at most this

std::string json_error(const std::string& msg) {
  std::string out = "{\"error\":\"";
  for (char c : msg) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out + "\"}";
}

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
      res->body() = json_error(msg);
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
    const bool keep = header_parser_->keep_alive();
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

}  // namespace

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
          std::make_shared<Connection<TlsStream>>(std::move(s), *this, std::move(peer))->start();
        else
          std::make_shared<Connection<beast::tcp_stream>>(std::move(s), *this, std::move(peer))
              ->start();
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
  impl_->stopping = true;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->ioc.stop();
}

}  // namespace hearth::server
