// hearth's HTTP layer, as the API handlers see it: one Exchange per request,
// answered once with a whole body or as a stream of chunks, from any thread.
// The transport (Boost.Beast, asynchronous, bounded headers and bodies,
// timeouts against slow clients) lives in http_server.cpp; the handlers know
// nothing of sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hearth::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent
  std::string path;    // normalised: percent-decoded, "//" and "/./" collapsed, no query
  std::string query;   // after '?', raw
  Headers headers;     // names lower-cased, in the order received
  std::string body;
  std::string remote;  // peer address
  // The first value of header `name` (lower case), if any; `count` says how many there were.
  std::optional<std::string> header(const std::string& name, int* count = nullptr) const;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const HttpRequest& request() const = 0;

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

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 11434;
  uint64_t max_body_bytes = 64ull << 20;  // JSON requests
  uint64_t max_header_bytes = 16 << 10;
  int max_connections = 512;
  int io_threads = 1;
  int work_threads = 4;      // where handlers run (tokenising, loading models)
  int read_timeout_s = 30;   // a request's headers and body must arrive within this
  int idle_timeout_s = 120;  // keep-alive connections with nothing to say
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

  struct Impl;  // defined in http_server.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

// "/a//b/./c" -> "/a/b/c"; percent-escapes decoded; ".." refused (nullopt), as are
// NUL bytes and paths not starting with '/'.
std::optional<std::string> normalize_path(const std::string& raw);

}  // namespace hearth::server
