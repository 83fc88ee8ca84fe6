// Programs other than hearth that the operations tests run beside it
// (Prometheus, promtool, HAProxy): a background process stopped when its
// object goes out of scope, a command's output, a bounded wait, and URL
// query encoding. Header-only, test code only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli/hearth_process.h"

namespace hearth::test {

// `command` run by /bin/sh in the background, stdout and stderr to `log`;
// SIGTERM (then SIGKILL after 5 s) when stopped or destroyed.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::string& command, std::string log) : log_(std::move(log)) {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string cmd = "exec " + command + " >" + log_ + " 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }
  ~BackgroundProcess() { stop(); }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string log() const { return slurp(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

struct CommandResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// `command` through the shell, waited for.
inline CommandResult run_command(const std::string& command) {
  const TempDir dir;
  const std::string out = dir.path() + "/out";
  const int status = std::system((command + " >" + out + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out)};
}

// Polls `done` every 100 ms until it is true (true) or `timeout` passes (false).
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (done()) return true;
    } catch (const std::exception&) {  // not listening yet
    }
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// `s` percent-encoded for a URL query value.
inline std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace hearth::test
