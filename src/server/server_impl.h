// The server's state and its routes (internal to src/server).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "auth/audit.h"
#include "engine/models.h"
#include "engine/response_cache.h"
#include "history/history.h"
#include "nlohmann/json.hpp"
#include "server/http.h"
#include "server/inference.h"
#include "server/metrics.h"
#include "server/ollama_types.h"
#include "server/server.h"
#include "store/store.h"

namespace hearth::server {

// A model name resolved to what the engine needs.
struct ResolvedModel {
  std::string name;           // as listed: "tiny-kjv:latest"
  std::string key;            // identity of the weights for the model manager
  std::string digest;         // hex sha256 of the model (may be empty for a bundled model)
  std::string path;           // GGUF file
  std::string template_text;  // the model's stored template (Jinja), "" = the GGUF's
  std::string system;         // stored system message
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // stored options
  std::vector<std::pair<std::string, std::string>> messages;             // stored (role, content)
};

// An error with its HTTP status, sent as {"error": message}.
struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& message, Headers headers = {})
      : std::runtime_error(message), status(status), headers(std::move(headers)) {}
  int status;
  Headers headers;
  std::string param;  // the request field at fault, when known (OpenAI's error.param)
  std::string code;   // OpenAI's error.code, when one applies ("context_length_exceeded")
};

// A 405 that names the methods the route takes (RFC 9110 wants an Allow
// header on it), with `headers` beside.
inline HttpError method_not_allowed(std::string_view allow, Headers headers = {}) {
  headers.emplace_back("Allow", std::string(allow));
  return HttpError(405, "method not allowed", std::move(headers));
}

// Texts to embed with a model (Ollama's /api/embed, OpenAI's /v1/embeddings).
struct EmbedSpec {
  std::string model;
  ollama::Options options;  // num_ctx counts
  std::optional<ollama::KeepAlive> keep_alive;
  std::vector<std::string> inputs;
  bool truncate = true;               // cut an input to the context, else 400
  std::optional<int64_t> dimensions;  // keep the first n, renormalised
};
struct Embedded {
  std::vector<std::vector<float>> vectors;  // [inputs][n_embd or dimensions], unit length
  int64_t tokens = 0;                       // all inputs' tokens
  std::chrono::nanoseconds load{0}, total{0};
};

struct InferenceRequest;  // inference.h
class InferenceSink;

struct Server::Impl {
  explicit Impl(ServerOptions o);
  ServerOptions o;
  Metrics metrics;  // outlives every exchange that records into it
  // Destroyed bottom-up: the HTTP server stops first, then the models (whose
  // cancelled requests still reach the cache), then the cache.
  engine::ResponseCache cache;
  engine::ModelManager models;
  store::Store store;
  Guard guard;  // admits each request before its handler (HttpOptions::admit)
  std::atomic<bool> sandboxed{false};
  std::unique_ptr<history::Store> history;  // null with --no-history
  std::unique_ptr<auth::AuditLog> audit;    // null: none
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<HttpServer> metrics_http;  // ServerOptions::metrics_port

  void handle(const std::shared_ptr<Exchange>& ex);
  // Through the store. Throws HttpError 404 `model "NAME" not found`, 400 for
  // an invalid name, 500 for a damaged store entry.
  ResolvedModel resolve(const std::string& name) const;
  // A request's options over the model's stored parameters, checked (throws
  // sampling::ParamError naming the option).
  Settings settings(const ResolvedModel& m, const ollama::Options& request) const;
  engine::KeepAlive keep_alive_of(const std::optional<ollama::KeepAlive>& k) const;
  // Runs a generation (inference.h): validates, loads the model and queues the
  // request, then returns; `sink` hears the rest. Throws HttpError (or
  // ParamError, ...) for what is refused before anything was sent.
  void infer(const std::shared_ptr<Exchange>& ex, InferenceRequest req,
             std::shared_ptr<InferenceSink> sink);
  // The prompt tokens `req` would evaluate (Anthropic's count_tokens), also
  // when more than the context holds.
  int64_t count_tokens(InferenceRequest req);
  struct Prepared;
  // `counting`: the prompt is not held to the context (count_tokens).
  Prepared prepare(InferenceRequest& req, bool counting = false);  // inference.cpp

  // Throws HttpError 400 for bad dimensions or an input over the context
  // (without truncate). Stops early (fewer vectors) when the client went away.
  Embedded embed_inputs(const EmbedSpec& spec, Exchange& ex);

  // The routes of each API; each returns false when the path is not one of its own.
  // ollama_routes.cpp: generate, chat, ps, version
  bool ollama(const std::shared_ptr<Exchange>& ex);
  // ollama_models.cpp: tags, show, copy, delete, create, blobs
  bool ollama_models(const std::shared_ptr<Exchange>& ex);
  bool ollama_embed(const std::shared_ptr<Exchange>& ex);  // ollama_embed.cpp: embed, embeddings
  bool openai(const std::shared_ptr<Exchange>& ex);        // openai_routes.cpp: /v1/...
  bool anthropic(const std::shared_ptr<Exchange>& ex);     // anthropic_routes.cpp: /v1/messages
  // GET /metrics (Prometheus) and GET /health (for load balancers): metrics_routes.cpp.
  bool ops(const std::shared_ptr<Exchange>& ex);
  // ui_routes.cpp: the page (GET / from a browser, /ui/*), /api/hearth/conversations*
  bool ui(const std::shared_ptr<Exchange>& ex);
};

// The conversation store under o.home ($HEARTH_HOME/history.db) with o's
// retention. Throws history::HistoryError naming the file.
std::unique_ptr<history::Store> open_history(const ServerOptions& o);

// Errors in the shape of the API the path belongs to: Ollama's {"error": message};
// under /v1/, OpenAI's {"error": {message, type, param, code}}; under
// /v1/messages, Anthropic's {"type": "error", "error": {type, message}}.
enum class ErrorShape { kOllama, kOpenAI, kAnthropic };
ErrorShape error_shape(std::string_view path);
// The body of an error for `path` (`param`, `code`: OpenAI's error.param and
// error.code, if known); the message goes out without_paths.
nlohmann::ordered_json error_body(std::string_view path, int status, const std::string& message,
                                  const std::string& param = {}, const std::string& code = {});
// `param` names the request field at fault (OpenAI's error.param), if known.
// The message goes out without_paths.
void send_error(Exchange& ex, int status, const std::string& message, Headers headers = {},
                const std::string& param = {}, const std::string& code = {});
void send_json(Exchange& ex, int status, const nlohmann::ordered_json& body, Headers headers = {});
// `body` as sent: compact, invalid UTF-8 replaced (U+FFFD) rather than thrown on.
std::string dump_json(const nlohmann::ordered_json& body);

// `message` with each absolute file path ("/home/bob/.hearth/models/blobs/x")
// cut to its last component ("x"): errors name files for the user at the
// console, but a client learns no user names or layout from them. A path of
// one component and the server's own routes (/api/..., /v1/...) stay, as do
// the JSON pointer of a schema error ("schema at '/properties/a'") and a URL's
// path after its host.
std::string without_paths(std::string_view message);

}  // namespace hearth::server
