#include "server/server.h"

#include <spdlog/spdlog.h>

#include "sampling/param_error.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"
#include "store/resolve.h"

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
    : o(std::move(opts)), cache(o.response_cache_bytes), models(o.models) {}

ResolvedModel Server::Impl::resolve(const std::string& name) const {
  ResolvedModel m;
  try {
    m.path = store::resolve_model(name);
  } catch (const std::exception&) {
    throw HttpError(404, "model \"" + name + "\" not found");
  }
  m.name = name.find(':') == std::string::npos ? name + ":latest" : name;
  m.key = m.path;
  return m;
}

void Server::Impl::handle(const std::shared_ptr<Exchange>& ex) {
  const auto& req = ex->request();
  // Logged without bodies: prompts never reach the log.
  spdlog::debug("{} {} from {}", req.method, req.path, req.remote);
  try {
    if (ollama(ex) || ollama_models(ex) || ollama_embed(ex)) return;
    send_error(*ex, 404, "404 page not found: " + req.path);
  } catch (const HttpError& e) {
    send_error(*ex, e.status, e.what(), e.headers);
  } catch (const ollama::WireError& e) {
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
  impl_->http = std::make_unique<HttpServer>(
      impl_->o.http, [impl = impl_.get()](std::shared_ptr<Exchange> ex) { impl->handle(ex); });
}

Server::~Server() = default;

uint16_t Server::port() const { return impl_->http->port(); }
void Server::run() { impl_->http->run(); }
void Server::stop() { impl_->http->stop(); }

}  // namespace hearth::server
