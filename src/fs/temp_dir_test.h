// Test code only: a fresh folder under /tmp for one test, removed with
// everything in it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace hearth::fs::test {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/hearth_fs_test_XXXXXX";
    if (!mkdtemp(t)) std::abort();
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
