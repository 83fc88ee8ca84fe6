// A real `hearth serve` for integration tests: started on a free loopback port
// with its own HEARTH_HOME, spoken to over HTTP (a small Boost.Beast client),
// stopped with SIGTERM when the object goes out of scope. Test code only.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/hearth_process.h"

namespace hearth::test {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const { return nlohmann::json::parse(body); }
  std::vector<nlohmann::json> ndjson() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

// A port nothing listens on now (bound, then released).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One HTTP/1.1 exchange. `on_chunk` (optional) sees the body as it arrives and
// may return false to hang up mid-response. (Defined in hearth_server.cpp, so
// that Beast is compiled once, not in every test program.)
HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body = "",
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          std::function<bool(const std::string&)> on_chunk = {});

class HearthServer {
 public:
  // Starts `hearth serve --host 127.0.0.1 --port P EXTRA` and waits until it
  // answers (over HTTPS, any certificate, when `https`).
  explicit HearthServer(const std::string& extra_args = "", bool https = false)
      : port_(free_port()) {
    log_ = home_.path() + "/server.log";
    pid_ = fork();
    if (pid_ == 0) {
      setenv("HEARTH_HOME", home_.path().c_str(), 1);
      unsetenv("HEARTH_HOST");
      const std::string cmd = std::string("exec ") + HEARTH_BIN +
                              " serve --host 127.0.0.1 --port " + std::to_string(port_) + " " +
                              extra_args + " >" + log_ + " 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("hearth serve exited: " + slurp(log_));
      }
      if (https) {
        if (run_shell("curl -sfk --max-time 2 https://127.0.0.1:" + std::to_string(port_) +
                      "/health")
                .code == 0)
          return;
      } else {
        try {
          if (http_request(port_, "GET", "/health").status == 200) return;
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("hearth serve did not answer within 60 s: " + slurp(log_));
  }
  ~HearthServer() { stop(); }
  // SIGTERM, and the exit status (-1 when killed by a signal).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (WIFSIGNALED(status)) std::fprintf(stderr, "hearth serve: signal %d\n", WTERMSIG(status));
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return exit_code_ = -1;
  }
  int port() const { return port_; }
  const std::string& home() const { return home_.path(); }
  std::string log() const { return slurp(log_); }

  HttpResponse get(const std::string& path) { return http_request(port_, "GET", path); }
  HttpResponse post(const std::string& path, const nlohmann::json& body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return http_request(port_, "POST", path, body.dump(), std::move(headers));
  }

 private:
  TempDir home_;
  int port_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_;
};

}  // namespace hearth::test
