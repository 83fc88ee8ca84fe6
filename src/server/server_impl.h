// The server's state and its routes (internal to src/server).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "auth/audit.h"
#include "engine/models.h"
#include "engine/response_cache.h"
#include "nlohmann/json.hpp"
#include "server/http.h"
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
};

struct Server::Impl {
  explicit Impl(ServerOptions o);
  ServerOptions o;
  // Destroyed bottom-up: the HTTP server stops first, then the models (whose
  // cancelled requests still reach the cache), then the cache.
  engine::ResponseCache cache;
  engine::ModelManager models;
  store::Store store;
  Guard guard;  // admits each request before its handler (HttpOptions::admit)
  std::atomic<bool> sandboxed{false};
  std::unique_ptr<auth::AuditLog> audit;  // null: none
  std::unique_ptr<HttpServer> http;

  void handle(const std::shared_ptr<Exchange>& ex);
  // Through the store. Throws HttpError 404 `model "NAME" not found`, 400 for
  // an invalid name, 500 for a damaged store entry.
  ResolvedModel resolve(const std::string& name) const;

  // Ollama's routes; each returns false when the path is not one of its own.
  bool ollama(const std::shared_ptr<Exchange>& ex);         // ollama_routes.cpp: generate, chat, ps, version
  bool ollama_models(const std::shared_ptr<Exchange>& ex);  // ollama_models.cpp: tags, show, copy, delete, create, blobs
  bool ollama_embed(const std::shared_ptr<Exchange>& ex);   // ollama_embed.cpp: embed, embeddings
};

// Sends {"error": message} with `status`.
void send_error(Exchange& ex, int status, const std::string& message, Headers headers = {});
void send_json(Exchange& ex, int status, const nlohmann::ordered_json& body, Headers headers = {});

}  // namespace hearth::server
