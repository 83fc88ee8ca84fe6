// The CLI's HTTP client of a running `hearth serve` (HEARTH_HOST, default
// 127.0.0.1:11434): `run`, `list`, `ps`, `show`, `rm` and `stop` use the
// server when one answers, so a model already loaded there serves the
// terminal too, and work standalone otherwise. HEARTH_HOST=https://... speaks
// TLS (1.2 or later) and verifies the server's certificate and its name or IP
// against the system's CAs and HEARTH_TLS_CA (a PEM file: a self-signed
// server certificate, or the CA that signed it).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace hearth::cli {

struct ServerAddress {
  std::string host = "127.0.0.1";
  int port = 11434;
  bool explicit_ = false;  // HEARTH_HOST was set
  bool tls = false;        // https://
  // The host as the user wrote it ("localhost", "hearth.lan"): the name TLS
  // checks the certificate against; `host` is what is connected to.
  std::string name;
  // Where the address came from, as errors name it ("HEARTH_HOST", "--server").
  std::string origin = "HEARTH_HOST";
};

// HEARTH_HOST as Ollama reads OLLAMA_HOST: "host", "host:port", "http://host:port", ":port";
// "https://host:port" for a server started with --tls-cert.
ServerAddress server_address();
// The same from a URL the user gave (`hearth cost --server`); `origin` names
// where it came from in errors.
ServerAddress address_of(const std::string& url, const std::string& origin = "HEARTH_HOST");
void parse_host(std::string s, std::string& host, int& port);

struct ClientResponse {
  int status = 0;
  std::string body;
  bool cache_hit = false;  // X-Hearth-Cache: hit, an answer the server repeated from its cache
};

// Whether a hearth (or Ollama) server answers at `a` within `timeout_ms`. Over
// TLS, a server reached whose certificate does not verify (or an unreadable
// HEARTH_TLS_CA) throws std::runtime_error, saying why: the commands that work
// standalone when no server answers must not do so for a server the user
// named and cannot trust (`rm` would delete from the local store instead).
bool server_answers(const ServerAddress& a, int timeout_ms = 300);

// One request; `on_line` (when given) receives each NDJSON line of a streamed
// answer as it arrives and may return false to hang up. Throws
// std::runtime_error when the server cannot be reached (or, over TLS, its
// certificate does not verify).
ClientResponse http_call(const ServerAddress& a, const std::string& method,
                         const std::string& target, const std::string& body = "",
                         const std::function<bool(const nlohmann::json&)>& on_line = {});

// The server's {"error": ...} message of a failed response, else the body.
std::string error_message(const ClientResponse& r);

}  // namespace hearth::cli
