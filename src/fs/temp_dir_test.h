// Test code only: a fresh folder under /tmp for one test, removed with
// everything in it. The unit tests and the integration tests (tests/cli) share it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace hearth::fs::test {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/hearth_test_XXXXXX";
    if (!mkdtemp(t)) throw std::runtime_error("mkdtemp failed under /tmp");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace hearth::fs::test
