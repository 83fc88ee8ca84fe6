// Helpers shared by the integration tests in tests/cli: run the real `hearth`
// binary (HEARTH_BIN) through the shell and capture what a user would see,
// plus small file and temporary-folder utilities. Header-only, test code only.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "fs/temp_dir_test.h"

namespace hearth::test {

// What one run of `hearth` produced: exit status (-1 when it did not exit
// normally), stdout and stderr, each captured separately and byte for byte.
struct Result {
  int code = -1;
  std::string out, err;
};

// The whole file at `path` as bytes; empty when it cannot be read.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `s` as one shell word: single-quoted, embedded quotes written as '\''.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A fresh folder under /tmp, removed with everything in it (the unit tests' own).
using TempDir = hearth::fs::test::TempDir;

// Runs the shell command `command` with `stdin_text` on stdin, and returns
// its exit status, stdout and stderr.
inline Result run_shell(const std::string& command, const std::string& stdin_text = "") {
  const TempDir dir;
  const std::string& d = dir.path();
  std::ofstream(d + "/in", std::ios::binary) << stdin_text;
  const std::string cmd = command + " <" + d + "/in >" + d + "/out 2>" + d + "/err";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(d + "/out");
  r.err = slurp(d + "/err");
  return r;
}

// "sha256:<hex>" of `bytes` (by sha256sum: the tests link no hash library).
inline std::string digest_of(const std::string& bytes) {
  const TempDir dir;
  std::ofstream(dir.path() + "/b", std::ios::binary) << bytes;
  const std::string cmd = "sha256sum " + dir.path() + "/b | cut -c1-64 >" + dir.path() + "/d";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("sha256sum failed");
  std::string hex = slurp(dir.path() + "/d");
  while (!hex.empty() && hex.back() == '\n') hex.pop_back();
  return "sha256:" + hex;
}

// Runs `HEARTH_BIN ARGS` through the shell (so ARGS may hold quoted words).
inline Result run_hearth(const std::string& args, const std::string& stdin_text = "") {
  return run_shell(std::string(HEARTH_BIN) + " " + args, stdin_text);
}

}  // namespace hearth::test
