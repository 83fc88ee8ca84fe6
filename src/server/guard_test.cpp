#include "server/guard.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace hearth::server {
namespace {

HttpRequest request(std::string method, std::string path, Headers headers,
                    std::string remote = "127.0.0.1") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.headers = std::move(headers);
  r.remote = std::move(remote);
  return r;
}

int status(Guard& g, HttpRequest r) {
  const auto no = g.admit(r);
  return no ? no->status : 0;
}

TEST(Guard, RoutesAreAdminUnlessListed) {
  EXPECT_EQ(route_access("GET", "/health"), Access::Public);
  EXPECT_EQ(route_access("GET", "/"), Access::Public);
  EXPECT_EQ(route_access("GET", "/ui/app.js"), Access::Public);
  EXPECT_EQ(route_access("POST", "/"), Access::Admin);
  for (const char* p : {"/api/generate", "/api/chat", "/api/embed", "/api/tags", "/api/show",
                        "/api/ps", "/api/version", "/v1/chat/completions", "/v1/models",
                        "/v1/messages", "/v1/messages/count_tokens", "/api/hearth/conversations/x"})
    EXPECT_EQ(route_access("POST", p), Access::Inference) << p;
  for (const char* p :
       {"/api/create", "/api/copy", "/api/delete", "/api/blobs/sha256:00", "/api/pull", "/api/push",
        "/metrics", "/API/chat", "/api/chat/x", "/api/generatex", "/v1", "/something/new"})
    EXPECT_EQ(route_access("POST", p), Access::Admin) << p;
}

TEST(Guard, HostsAndTheBoundAddress) {
  GuardOptions o;
  o.bind_host = "192.168.1.5";
  o.allowed_hosts = {"Hearth.LAN"};
  Guard g(o);
  // Names allowed, and any IP address (no name a DNS rebinding could turn):
  // clients with OLLAMA_HOST=0.0.0.0 send "Host: 0.0.0.0:11434", as Ollama takes.
  for (const char* h : {"localhost", "LOCALHOST:80", "127.0.0.1:11434", "[::1]", "hearth.lan",
                        "hearth.lan:11434", "192.168.1.5:11434", "192.168.1.6", "0.0.0.0:11434",
                        "[::]", "127.0.0.2", "app.localhost:8080",
                        // A container's name for the host (Open WebUI in Docker), as Ollama admits.
                        "host.docker.internal:11434", "host.containers.internal"})
    EXPECT_EQ(status(g, request("GET", "/api/tags", {{"host", h}})), 0) << h;
  // This machine's own name.
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  EXPECT_EQ(status(g, request("GET", "/api/tags", {{"host", std::string(name) + ":11434"}})), 0)
      << name;
  for (const char* h : {"host.docker.internal.evil.com", "internal", "evil.internal.com"})
    EXPECT_EQ(status(g, request("GET", "/api/tags", {{"host", h}})), 403) << h;
  for (const char* h : {"", " ", "evil.hearth.lan", "hearth.lan.", "evil.com", "localhost.evil.com",
                        "127.0.0.1.nip.io", "localhost:", "localhost:99999x", "a b", "[::1"})
    EXPECT_EQ(status(g, request("GET", "/api/tags", {{"host", h}})), 403) << h;
}

// Desktop and editor apps (Electron app://, Tauri, VS Code webviews) are
// admitted with CORS, as Ollama admits them; a web site, or a page on another
// port of this machine, only when --allow-origin names it.
TEST(Guard, AppOriginsAreAdmittedWithCors) {
  Guard g({});
  for (const char* o : {"app://obsidian.md", "vscode-webview://abc", "tauri://localhost"}) {
    HttpRequest r = request("POST", "/api/chat", {{"host", "localhost:11434"}, {"origin", o}});
    EXPECT_FALSE(g.admit(r)) << o;
    ASSERT_FALSE(r.response_headers.empty()) << o;
    EXPECT_EQ(r.response_headers[0].second, o);  // Access-Control-Allow-Origin
  }
  for (const char* o : {"http://evil.com", "http://localhost:3000", "http://localhost.evil.com",
                        "null", "file://", "app://", "ftp://localhost"})
    EXPECT_EQ(status(g, request("POST", "/api/chat", {{"host", "localhost"}, {"origin", o}})), 403)
        << o;
}

TEST(Guard, RateLimitByNonLoopbackAddress) {
  GuardOptions o;
  o.rate_limit = 2;
  Guard g(o);
  const Headers h = {{"host", "localhost"}};
  EXPECT_EQ(status(g, request("GET", "/api/tags", h, "10.0.0.2")), 0);
  EXPECT_EQ(status(g, request("GET", "/api/tags", h, "10.0.0.2")), 0);
  HttpRequest third = request("GET", "/api/tags", h, "10.0.0.2");
  const auto no = g.admit(third);
  ASSERT_TRUE(no);
  EXPECT_EQ(no->status, 429);
  ASSERT_EQ(no->headers.size(), 1u);
  EXPECT_EQ(no->headers[0].first, "Retry-After");
  EXPECT_EQ(no->headers[0].second, "30");                               // 1 request at 2 a minute
  EXPECT_EQ(status(g, request("GET", "/api/tags", h, "10.0.0.3")), 0);  // another client
  for (int i = 0; i < 10; ++i) EXPECT_EQ(status(g, request("GET", "/api/tags", h)), 0);  // loopback
  EXPECT_EQ(status(g, request("GET", "/health", {}, "10.0.0.2")), 0);  // never limited
}

TEST(Guard, TokenBudget) {
  GuardOptions o;
  o.rate_limit = 0;
  o.token_limit = 100;
  Guard g(o);
  const Headers h = {{"host", "localhost"}};
  HttpRequest r = request("POST", "/api/generate", h, "10.0.0.9");
  EXPECT_EQ(status(g, r), 0);
  EXPECT_TRUE(g.take_tokens(r, 60));
  EXPECT_FALSE(g.take_tokens(r, 60));  // 20 in debt
  EXPECT_EQ(status(g, request("POST", "/api/generate", h, "10.0.0.9")), 429);
  EXPECT_EQ(status(g, request("POST", "/api/generate", h, "10.0.0.8")), 0);
  EXPECT_EQ(status(g, request("POST", "/api/delete", h, "10.0.0.9")), 0);  // not a generation route
  GuardOptions off;
  Guard g2(off);
  EXPECT_TRUE(g2.take_tokens(r, 1'000'000));
}

}  // namespace
}  // namespace hearth::server
