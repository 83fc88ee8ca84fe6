// What the hostile-input tests (security_test.cpp, hostile_store_test.cpp)
// share: raw bytes to a server, and the checks every attack ends with (the
// right status and a JSON error; /health still answers within a second).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "cli/hearth_server.h"

namespace hearth::test {

// Bytes to the server on a fresh connection; everything it answers until it
// closes the connection or `wait_ms` pass without a byte.
inline std::string raw(int port, const std::string& bytes, int wait_ms = 3000) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("connect");
  }
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (a lying length, a flood)
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

inline nlohmann::json body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return nlohmann::json::parse(response.substr(at + 4), nullptr, false);
}

// The server answers /health with 200 within a second.
inline void expect_healthy(int port) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = http_request(port, "GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "ok");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
}

// An error answer: `status` and a message in the shape of the API asked:
// Ollama's {"error": "..."}, OpenAI's {"error": {"message", ...}} or
// Anthropic's {"type": "error", "error": {"type", "message"}}.
inline void expect_error(const HttpResponse& r, int status, const std::string& what = "") {
  EXPECT_EQ(r.status, status) << what << ": " << r.body;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  const bool ollama = j.is_object() && j["error"].is_string();
  const bool openai = j.is_object() && j["error"].is_object() && j["error"]["message"].is_string();
  EXPECT_TRUE(ollama || openai) << what << ": " << r.body;
}

}  // namespace hearth::test
