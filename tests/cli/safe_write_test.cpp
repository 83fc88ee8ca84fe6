// `hearth quantize` and `hearth synth` never destroy what is at their output
// path by accident: an existing file needs --force, the input is never its own
// output (by any name), only a regular file is replaced, a symlink planted at
// a temporary name is not followed, and an interrupted run leaves no
// temporary file.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/hearth_process.h"

namespace {

namespace stdfs = std::filesystem;
using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::slurp;
using hearth::test::TempDir;
using ::testing::HasSubstr;

const std::string kModel = std::string(HEARTH_TINY_KJV);

// The names in `dir`, sorted.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SafeWrite, AnExistingOutputNeedsForce) {
  const TempDir dir;
  const std::string out = dir.path() + "/out.gguf";
  std::ofstream(out) << "keep me";
  for (const std::string& cmd :
       {"quantize tiny-kjv " + out + " q8_0", "synth --shape small " + out}) {
    const auto r = run_hearth(cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_THAT(r.err, HasSubstr("exists (pass --force to replace it)")) << cmd;
    EXPECT_EQ(slurp(out), "keep me") << cmd;
  }
  EXPECT_EQ(run_hearth("quantize tiny-kjv " + out + " q8_0 --force").code, 0);
  EXPECT_EQ(slurp(out).substr(0, 4), "GGUF");
  EXPECT_EQ(run_hearth("synth --shape small --force " + out).code, 0);
  EXPECT_EQ(slurp(out).substr(0, 4), "GGUF");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.gguf"});
}

TEST(SafeWrite, TheInputIsNeverItsOwnOutput) {
  const TempDir dir;
  const std::string self = dir.path() + "/self.gguf", link = dir.path() + "/link.gguf";
  stdfs::copy_file(kModel, self);
  stdfs::create_symlink("self.gguf", link);
  const std::string original = slurp(self);
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {self, self}, {link, self}, {self, dir.path() + "/./self.gguf"}}) {
    const auto r = run_hearth("quantize " + in + " " + out + " q4_0 --force");
    EXPECT_EQ(r.code, 1) << in << " -> " << out;
    EXPECT_THAT(r.err, HasSubstr("it is the input file")) << r.err;
  }
  EXPECT_TRUE(slurp(self) == original);
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"link.gguf", "self.gguf"}));
}

TEST(SafeWrite, OnlyARegularFileIsReplaced) {
  const TempDir dir;
  const std::string fifo = dir.path() + "/fifo", sub = dir.path() + "/sub",
                    link = dir.path() + "/link.gguf", target = dir.path() + "/target";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  stdfs::create_directory(sub);
  std::ofstream(target) << "target";
  stdfs::create_symlink(target, link);
  for (const std::string& out : {fifo, sub, link}) {
    for (const std::string& cmd :
         {"quantize tiny-kjv " + out + " q8_0 --force", "synth --shape small --force " + out}) {
      const auto r = run_hearth(cmd);
      EXPECT_EQ(r.code, 1) << cmd;
      EXPECT_THAT(r.err, HasSubstr("not a regular file")) << r.err;
    }
  }
  EXPECT_TRUE(stdfs::is_fifo(fifo));
  EXPECT_TRUE(stdfs::is_empty(sub));
  EXPECT_EQ(slurp(target), "target");
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"fifo", "link.gguf", "sub", "target"}));
}

// The old writer created OUT.tmp (and synth OUT.f16.tmp) with fopen, following
// a symlink an attacker planted there.
TEST(SafeWrite, APlantedSymlinkIsNotFollowed) {
  const TempDir dir;
  const std::string out = dir.path() + "/out.gguf", victim = dir.path() + "/victim";
  std::ofstream(victim) << "precious";
  stdfs::create_symlink(victim, out + ".tmp");
  stdfs::create_symlink(victim, out + ".f16.tmp");
  ASSERT_EQ(run_hearth("quantize tiny-kjv " + out + " q8_0").code, 0);
  EXPECT_EQ(slurp(victim), "precious");
  ASSERT_EQ(run_hearth("synth --shape small --type q4_0 --force " + out).code, 0);
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_EQ(slurp(out).substr(0, 4), "GGUF");
  EXPECT_EQ(listing(dir.path()),
            (std::vector<std::string>{"out.gguf", "out.gguf.f16.tmp", "out.gguf.tmp", "victim"}));
}

// SIGTERM while synth writes: the temporary file is removed and the process
// dies of the signal. The signal is sent once the temporary file exists, so
// the test does not depend on the machine's speed.
TEST(SafeWrite, SigtermLeavesNoTemporaryFile) {
  const TempDir dir;
  const std::string out = dir.path() + "/big.gguf";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execl(HEARTH_BIN, HEARTH_BIN, "synth", "--shape", "tinyllama-1.1b", "--type", "q4_0", "-t", "1",
          out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool started = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!started && std::chrono::steady_clock::now() < deadline) {
    for (const std::string& name : listing(dir.path()))
      if (name.find(".tmp-") != std::string::npos) started = true;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // mid-write
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(started) << "synth never created its temporary file";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{});
}

}  // namespace
