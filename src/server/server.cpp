#include "server/server.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <thread>

#include "sampling/param_error.h"
#include "server/json_body.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

std::string dump_json(const nlohmann::ordered_json& body) {
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void send_json(Exchange& ex, int status, const nlohmann::ordered_json& body, Headers headers) {
  ex.respond(status, kJson, dump_json(body), std::move(headers));
}

// What is not a file path though it starts with '/': the JSON pointer of a
// schema error (grammar::SchemaError writes "schema at '/properties/a': ..."),
// which names the request's own schema, and a URL's "//host/path" after its
// scheme. Returns how many characters from `i` to keep as they are, 0 if none.
size_t not_a_path(std::string_view message, size_t i) {
  constexpr std::string_view kSchemaAt = "schema at '";
  if (message.substr(0, i).ends_with(kSchemaAt)) {
    const size_t end = message.find("':", i);
    return (end == std::string_view::npos ? message.size() : end) - i;
  }
  // "http://x/y", not "file:///home/bob/x" (an empty host: a local path).
  const bool url = i >= 2 && message[i - 1] == ':' &&
                   std::isalpha(static_cast<unsigned char>(message[i - 2])) &&
                   message.substr(i).starts_with("//") && !message.substr(i).starts_with("///");
  if (!url) return 0;
  size_t end = i;
  while (end < message.size() &&
         std::string_view(" '\"),\n").find(message[end]) == std::string_view::npos)
    ++end;
  return end - i;
}

std::string without_paths(std::string_view message) {
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    const bool starts =
        message[i] == '/' &&
        (i == 0 || std::string_view(" '\"(=:").find(message[i - 1]) != std::string_view::npos);
    if (!starts) {
      out.push_back(message[i++]);
      continue;
    }
    if (const size_t keep = not_a_path(message, i); keep > 0) {
      out.append(message.substr(i, keep));
      i += keep;
      continue;
    }
    size_t end = i;
    while (end < message.size() &&
           std::string_view(" '\"),\n").find(message[end]) == std::string_view::npos)
      ++end;
    const std::string_view path = message.substr(i, end - i);
    const bool route = path.starts_with("/api/") || path.starts_with("/v1/");
    const size_t last = path.find_last_of('/');
    if (last == 0 || route)
      out.append(path);
    else
      out.append(path.substr(last + 1));
    i = end;
  }
  return out;
}

ErrorShape error_shape(std::string_view path) {
  if (path.starts_with("/v1/messages")) return ErrorShape::kAnthropic;
  if (path.starts_with("/v1/")) return ErrorShape::kOpenAI;
  return ErrorShape::kOllama;
}

nlohmann::ordered_json error_body(std::string_view path, int status, const std::string& text,
                                  const std::string& param, const std::string& code) {
  const std::string message = without_paths(text);
  nlohmann::ordered_json body;
  switch (error_shape(path)) {
    case ErrorShape::kOllama:
      body = ollama::error_response(message);
      break;
    case ErrorShape::kOpenAI: {
      const char* type = status == 401   ? "authentication_error"
                         : status == 403 ? "permission_error"
                         : status == 404 ? "not_found_error"
                         : status == 429 ? "rate_limit_error"
                         : status >= 500 ? "server_error"
                                         : "invalid_request_error";
      nlohmann::ordered_json e;
      e["message"] = message;
      e["type"] = type;
      e["param"] = param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(param);
      e["code"] = !code.empty() ? nlohmann::ordered_json(code)
                  : status == 404 && message.starts_with("model ")
                      ? nlohmann::ordered_json("model_not_found")
                      : nlohmann::ordered_json();
      body["error"] = std::move(e);
      break;
    }
    case ErrorShape::kAnthropic: {
      const char* type = status == 401   ? "authentication_error"
                         : status == 403 ? "permission_error"
                         : status == 404 ? "not_found_error"
                         : status == 413 ? "request_too_large"
                         : status == 429 ? "rate_limit_error"
                         : status == 503 ? "overloaded_error"
                         : status >= 500 ? "api_error"
                                         : "invalid_request_error";
      body["type"] = "error";
      body["error"] = {{"type", type}, {"message", message}};
      break;
    }
  }
  return body;
}

void send_error(Exchange& ex, int status, const std::string& text, Headers headers,
                const std::string& param, const std::string& code) {
  send_json(ex, status, error_body(ex.request().path, status, text, param, code),
            std::move(headers));
}

Server::Impl::Impl(ServerOptions opts)
    : o(std::move(opts)),
      cache(o.response_cache_bytes),
      models(o.models),
      store(o.home.empty() ? store::Store::default_root() : o.home + "/models"),
      guard(o.guard) {
  if (o.history) history = open_history(o);
}

ResolvedModel Server::Impl::resolve(const std::string& name) const {
  if (name.empty()) throw HttpError(400, "model is required");
  store::ModelRecord rec;
  try {
    rec = store.resolve(name);
  } catch (const store::ModelNotFound&) {
    throw HttpError(404, "model \"" + name + "\" not found");
  } catch (const store::InvalidName& e) {
    throw HttpError(400, e.what());
  } catch (const store::StoreError& e) {
    throw HttpError(500, e.what());
  }
  ResolvedModel m;
  m.name = rec.name;
  m.path = rec.gguf_path;
  m.digest =
      rec.model_digest.rfind("sha256:", 0) == 0 ? rec.model_digest.substr(7) : rec.model_digest;
  // The weights' identity: two names of the same GGUF share one loaded model.
  m.key = rec.model_digest.empty() ? rec.gguf_path : rec.model_digest;
  m.template_text = rec.template_text;
  m.system = rec.system;
  m.parameters = nlohmann::ordered_json::parse(rec.parameters.dump());
  for (const auto& msg : rec.messages) m.messages.emplace_back(msg.role, msg.content);
  return m;
}

void Server::Impl::handle(const std::shared_ptr<Exchange>& unmetered) {
  const auto ex = metered(unmetered, metrics);  // every answer counted and timed
  const auto& req = ex->request();
  // Logged without bodies: prompts never reach the log.
  spdlog::debug("{} {} from {}", req.method, req.path, req.remote);
  try {
    if (ops(ex) || ui(ex) || ollama(ex) || ollama_models(ex) || ollama_embed(ex) || openai(ex) ||
        anthropic(ex))
      return;
    send_error(*ex, 404, "404 page not found: " + req.path);
  } catch (const HttpError& e) {
    send_error(*ex, e.status, e.what(), e.headers, e.param, e.code);
  } catch (const ollama::WireError& e) {
    send_error(*ex, e.status, e.what());
  } catch (const BadJson& e) {
    send_error(*ex, e.status, e.what());
  } catch (const sampling::ParamError& e) {
    send_error(*ex, 400, e.what(), {}, e.name);
  } catch (const engine::OutOfMemory& e) {
    send_error(*ex, 507, e.what());
  } catch (const engine::QueueFull& e) {
    send_error(*ex, 503, e.what(), {{"Retry-After", "1"}});
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    send_error(*ex, 500, e.what());
  }
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  // Refusals before any handler (a key, a Host, a body too large) in the
  // shape of the API asked, as the handlers' errors are: the SDKs read them.
  impl_->o.http.error_body = [](std::string_view path, int status, const std::string& message) {
    return error_body(path, status, message).dump();
  };
  impl_->o.http.admit = [impl = impl_.get()](HttpRequest& r) {
    auto refusal = impl->guard.admit(r);
    // Refused before any handler: counted here (401/403 as auth, 429 as rate limit).
    if (refusal) impl->metrics.observe_request(r.path, refusal->status, "", 0);
    return refusal;
  };
  if (!impl_->o.audit_log.empty()) {
    impl_->audit = std::make_unique<auth::AuditLog>(impl_->o.audit_log, impl_->o.audit_retention);
    impl_->o.http.on_answered = [log = impl_->audit.get()](const HttpRequest& r, int status) {
      auth::AuditEntry e;
      e.key_name = r.key_name;
      e.client = r.remote;
      e.method = r.method;
      e.route = r.path;
      e.model = r.usage.model;
      e.prompt_tokens = r.usage.prompt_tokens;
      e.generated_tokens = r.usage.generated_tokens;
      e.status = status;
      log->record(e);
    };
  }
  impl_->http = std::make_unique<HttpServer>(
      impl_->o.http, [impl = impl_.get()](std::shared_ptr<Exchange> ex) { impl->handle(ex); });
  if (impl_->o.metrics_port) {
    HttpOptions m;
    m.host = "127.0.0.1";
    m.port = *impl_->o.metrics_port;
    m.work_threads = 1;
    impl_->metrics_http =
        std::make_unique<HttpServer>(m, [impl = impl_.get()](std::shared_ptr<Exchange> ex) {
          try {
            if (!impl->ops(ex)) send_error(*ex, 404, "404 page not found: " + ex->request().path);
          } catch (const HttpError& e) {
            send_error(*ex, e.status, e.what(), e.headers);
          } catch (const std::exception& e) {
            send_error(*ex, 500, e.what());
          }
        });
  }
}

Server::~Server() {
  if (!impl_) return;
  // First no handler runs (none can load a model after the models end), then
  // the models end: their cancelled requests let go of exchanges and so of
  // connections, which use the HTTP servers, while those still exist (the
  // members go bottom-up, the HTTP servers first).
  for (HttpServer* h : {impl_->http.get(), impl_->metrics_http.get()})
    if (h) {
      h->stop();
      h->join_handlers();
    }
  impl_->models.shutdown();
}

uint16_t Server::port() const { return impl_->http->port(); }
uint16_t Server::metrics_port() const {
  return impl_->metrics_http ? impl_->metrics_http->port() : 0;
}
void Server::run() {
  std::thread metrics;
  if (impl_->metrics_http) metrics = std::thread([this] { impl_->metrics_http->run(); });
  impl_->http->run();
  if (metrics.joinable()) {
    impl_->metrics_http->stop();
    metrics.join();
  }
}
void Server::stop() {
  impl_->models.stop_waiting();
  impl_->http->stop();
  if (impl_->metrics_http) impl_->metrics_http->stop();
}
void Server::set_sandboxed(bool on) { impl_->sandboxed = on; }

}  // namespace hearth::server
