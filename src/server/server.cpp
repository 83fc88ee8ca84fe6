#include "server/server.h"

#include <spdlog/spdlog.h>

#include "sampling/param_error.h"
#include "server/json_body.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

void send_json(Exchange& ex, int status, const nlohmann::ordered_json& body, Headers headers) {
  ex.respond(status, "application/json; charset=utf-8",
             body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
             std::move(headers));
}

void send_error(Exchange& ex, int status, const std::string& message, Headers headers) {
  send_json(ex, status, ollama::error_response(message), std::move(headers));
}

Server::Impl::Impl(ServerOptions opts)
    : o(std::move(opts)),
      cache(o.response_cache_bytes),
      models(o.models),
      store(o.home.empty() ? store::Store::default_root() : o.home + "/models"),
      guard(o.guard) {}

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

void Server::Impl::handle(const std::shared_ptr<Exchange>& ex) {
  const auto& req = ex->request();
  // Logged without bodies: prompts never reach the log.
  spdlog::debug("{} {} from {}", req.method, req.path, req.remote);
  try {
    if (req.path == "/health" && (req.method == "GET" || req.method == "HEAD"))
      return send_json(*ex, 200, {{"status", "ok"}, {"sandbox", sandboxed.load()}});
    if (ollama(ex) || ollama_models(ex) || ollama_embed(ex)) return;
    send_error(*ex, 404, "404 page not found: " + req.path);
  } catch (const HttpError& e) {
    send_error(*ex, e.status, e.what(), e.headers);
  } catch (const ollama::WireError& e) {
    send_error(*ex, e.status, e.what());
  } catch (const BadJson& e) {
    send_error(*ex, e.status, e.what());
  } catch (const sampling::ParamError& e) {
    send_error(*ex, 400, e.what());
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
  impl_->o.http.admit = [impl = impl_.get()](HttpRequest& r) { return impl->guard.admit(r); };
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
}

Server::~Server() = default;

uint16_t Server::port() const { return impl_->http->port(); }
void Server::run() { impl_->http->run(); }
void Server::stop() { impl_->http->stop(); }
void Server::set_sandboxed(bool on) { impl_->sandboxed = on; }

}  // namespace hearth::server
