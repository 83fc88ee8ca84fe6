// hearth's HTTP layer, as the API handlers see it: one Exchange per request,
// answered once with a whole body or as a stream of chunks, from any thread.
// The transport (Boost.Beast, asynchronous, bounded headers and bodies,
// timeouts against slow clients) lives in http_server.cpp and
// http_connection*; the handlers know nothing of sockets.
//
// Request bodies are buffered (HttpRequest::body, at most max_body_bytes),
// except the POST bodies of the paths under HttpOptions::streamed_body_paths
// (blob uploads, which can be GBs): the handler is started once the headers
// have arrived and pulls such a body with Exchange::read_body, on its own
// thread, while the connection's I/O strand reads ahead at most a few MiB
// (so a slow disk slows the client down rather than filling memory).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hearth::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The content types hearth answers with.
inline constexpr const char* kJson = "application/json; charset=utf-8";
inline constexpr const char* kNdjson = "application/x-ndjson";  // Ollama's streams
inline constexpr const char* kSse = "text/event-stream";        // OpenAI's and Anthropic's streams

// What a route did, for the audit log: set by the handler (on its thread)
// before it answers; read once the answer has gone.
struct Usage {
  std::string model;
  int64_t prompt_tokens = 0, generated_tokens = 0;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent
  std::string path;    // normalised: percent-decoded, "//" and "/./" collapsed, no query
  std::string query;   // after '?', raw
  Headers headers;     // names lower-cased, in the order received
  std::string body;    // "" when the body is streamed (Exchange::read_body)
  std::string remote;  // peer address
  // Set by HttpOptions::admit (the guard) before the handler runs:
  std::string key_name;  // the API key that authorised the request, "" when none
  // Added to the answer: CORS (the guard), and what a handler says about the
  // request before it answers (X-Hearth-Truncated).
  mutable Headers response_headers;
  mutable Usage usage;  // reported by the route (see Usage)
  // The first value of header `name` (lower case), if any; `count` says how many there were.
  std::optional<std::string> header(const std::string& name, int* count = nullptr) const;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const HttpRequest& request() const = 0;

  // The request body, pulled in pieces: up to `cap` bytes into `buf`, 0 at
  // the end. For a buffered body this reads request().body. For a streamed
  // one (body_streamed()) it blocks the calling thread (a handler's work
  // thread, never the I/O thread; an upload holds that thread until it ends)
  // until the connection has received more; the socket is read only while
  // the handler asks for more. Throws BodyError when the client goes away,
  // sends nothing for read_timeout_s, sends more than max_blob_bytes, or the
  // server stops. One reader at a time. A handler may answer without reading
  // the whole body: the connection is then closed after the answer.
  virtual size_t read_body(char* buf, size_t cap) = 0;
  virtual bool body_streamed() const = 0;

  // Answers once. Thread-safe; later calls are ignored.
  virtual void respond(int status, std::string content_type, std::string body,
                       Headers extra = {}) = 0;
  // Or streams: the status line and headers, then chunks, then the end.
  virtual void begin_stream(int status, std::string content_type, Headers extra = {}) = 0;
  virtual void write(std::string chunk) = 0;
  virtual void end_stream() = 0;

  // The client closed the connection (or the server is stopping): the handler
  // should stop work for it. `f` is called once, on some thread, possibly at once.
  virtual void on_disconnect(std::function<void()> f) = 0;
  virtual bool disconnected() const = 0;
};

// Why Exchange::read_body could not go on, with the status to answer:
// 413 (over max_blob_bytes), 408 (too slow), 400 (the client went away, a
// malformed body), 503 (the server is stopping).
struct BodyError : std::runtime_error {
  BodyError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

// An answer given instead of running the handler: {"error": message} with
// `status` (a 204 has no body), then the connection is closed.
struct Refusal {
  int status = 403;
  std::string message;
  Headers headers;
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 11434;
  uint64_t max_body_bytes = 16ull << 20;   // buffered bodies (JSON requests)
  uint64_t max_blob_bytes = 256ull << 30;  // streamed bodies
  // POST bodies to paths starting with one of these are streamed, not buffered.
  std::vector<std::string> streamed_body_paths = {"/api/blobs/"};
  uint64_t max_header_bytes = 16 << 10;  // the request line and headers (431 beyond)
  uint64_t max_uri_bytes = 8 << 10;      // the request target (414 beyond)
  int max_connections = 512;
  int max_connections_per_client = 64;     // open connections from one address
  int max_requests_per_connection = 1000;  // then the connection is closed after its answer
  int io_threads = 1;
  // Where handlers run (tokenising, loading models, and waiting for a model to
  // make way: engine::ModelManagerOptions::max_waiting of them at most).
  int work_threads = 8;
  // A streamed body's longest wait for its next bytes. (Buffered requests
  // must arrive whole within idle_timeout_s.)
  int read_timeout_s = 30;
  int idle_timeout_s = 120;  // keep-alive connections with nothing to say
  // Once a request's first bytes have come, its whole header must arrive
  // within header_timeout_s (slowloris); a buffered body within
  // header_timeout_s more plus its length at min_body_bytes_per_s.
  int header_timeout_s = 10;
  uint64_t min_body_bytes_per_s = 64 << 10;
  int write_timeout_s = 60;  // a client that stops reading our answer is dropped
  // HTTPS: a PEM certificate chain and its private key, read when the
  // server is built (both or neither; empty: plain HTTP). TLS 1.2 and later.
  std::string tls_cert_file, tls_key_file;
  // Called on the I/O thread once a request's header has arrived, before its
  // body is read and before the handler: a Refusal is answered instead. May
  // set the request's key_name and response_headers. (The guard: guard.h.)
  std::function<std::optional<Refusal>(HttpRequest&)> admit;
  // Called once per request whose header was read, when its answer (or a
  // refusal) has been written or has failed, with the status sent. (The audit log.)
  std::function<void(const HttpRequest&, int status)> on_answered;
  // The JSON body of an error this layer answers itself (a refusal, a body
  // too large) for a request to `path` ("" before the path is known);
  // unset: {"error": message}. (The server gives each API its own shape.)
  std::function<std::string(std::string_view path, int status, const std::string& message)>
      error_body;
};

class HttpServer {
 public:
  // Binds at once (throws std::runtime_error naming the address when it cannot).
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();
  uint16_t port() const;  // the bound port (useful with port 0)
  // Serves until stop() (from a signal handler thread or another thread).
  void run();
  void stop();
  // After stop(): waits for the handlers still running; none starts after.
  void join_handlers();

  struct Impl;  // defined in http_connection.h

 private:
  std::unique_ptr<Impl> impl_;
};

// "/a//b/./c" -> "/a/b/c"; percent-escapes decoded; ".." refused (nullopt), as are
// NUL bytes and paths not starting with '/'.
std::optional<std::string> normalize_path(const std::string& raw);

}  // namespace hearth::server
