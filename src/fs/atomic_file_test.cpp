// AtomicFile: replaces only regular files and only with force, never the
// input, never follows a planted link, and leaves no temporary file behind,
// not even when the process is killed.
#include "fs/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fs/temp_dir_test.h"

// Interposes libc's getrandom so that a test can make the temporary names
// predictable (and plant links at them). Off unless g_fixed_random is set.
namespace {
std::atomic<bool> g_fixed_random{false};
std::atomic<unsigned> g_counter{0};
}  // namespace

extern "C" ssize_t getrandom(void* buf, size_t n, unsigned flags) {
  if (!g_fixed_random) return syscall(SYS_getrandom, buf, n, flags);
  const unsigned v = g_counter++;
  auto* b = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < n; ++i) b[i] = i + 1 == n ? static_cast<unsigned char>(v) : 0;
  return static_cast<ssize_t>(n);
}

namespace {

using hearth::fs::AtomicFile;
using hearth::fs::AtomicFileOptions;
using hearth::fs::FileError;
using hearth::fs::write_file_atomic;
using hearth::fs::test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

AtomicFileOptions forced(const std::string& input = "") {
  AtomicFileOptions o;
  o.force = true;
  o.same_file_forbidden = input;
  return o;
}

AtomicFileOptions hinted(const std::string& hint) {
  AtomicFileOptions o;
  o.force_hint = hint;
  return o;
}

// The message of the FileError that `f` throws; "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  return "";
}

TEST(AtomicFile, WritesANewFileAndLeavesNothingElse) {
  TempDir d;
  write_file_atomic(d / "out.bin", "hello");
  EXPECT_EQ(slurp(d / "out.bin"), "hello");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, TheTemporaryFileIsAHiddenSiblingUntilCommit) {
  TempDir d;
  AtomicFile f(d / "out.bin");
  EXPECT_EQ(f.temp_path().rfind(d / ".out.bin.tmp-", 0), 0u) << f.temp_path();
  EXPECT_EQ(f.temp_path().size(), (d / ".out.bin.tmp-").size() + 8);
  f.write("abc", 3);
  EXPECT_FALSE(std::filesystem::exists(d / "out.bin"));
  f.commit();
  EXPECT_EQ(slurp(d / "out.bin"), "abc");
  EXPECT_FALSE(std::filesystem::exists(f.temp_path()));
}

TEST(AtomicFile, ARelativeDestinationWorks) {
  TempDir d;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(d.path());
  write_file_atomic("rel.txt", "x");
  std::filesystem::current_path(cwd);
  EXPECT_EQ(slurp(d / "rel.txt"), "x");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"rel.txt"});
}

TEST(AtomicFile, ReplacesAnExistingFileOnlyWithForce) {
  TempDir d;
  spit(d / "out.gguf", "old");
  const std::string e = error_of([&] { write_file_atomic(d / "out.gguf", "new"); });
  EXPECT_NE(e.find("'" + (d / "out.gguf") + "' exists (pass --force to replace it)"),
            std::string::npos)
      << e;
  EXPECT_EQ(slurp(d / "out.gguf"), "old");
  write_file_atomic(d / "out.gguf", "new", forced());
  EXPECT_EQ(slurp(d / "out.gguf"), "new");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"out.gguf"});
}

TEST(AtomicFile, TheForceHintIsTheCallers) {
  TempDir d;
  spit(d / "x", "old");
  const std::string e =
      error_of([&] { write_file_atomic(d / "x", "new", hinted("use --overwrite")); });
  EXPECT_NE(e.find("(use --overwrite)"), std::string::npos) << e;
}

TEST(AtomicFile, AFileThatAppearsDuringTheWriteIsNotReplacedWithoutForce) {
  TempDir d;
  AtomicFile f(d / "out");
  f.write("new");
  spit(d / "out", "someone else's");
  EXPECT_NE(error_of([&] { f.commit(); }).find("exists"), std::string::npos);
  EXPECT_EQ(slurp(d / "out"), "someone else's");
}

TEST(AtomicFile, AReplacedFileKeepsItsPermissions) {
  TempDir d;
  spit(d / "out", "old");
  chmod((d / "out").c_str(), 0600);
  write_file_atomic(d / "out", "new", forced());
  struct stat st;
  ASSERT_EQ(stat((d / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFile, RefusesASymlinkDestinationEvenWithForce) {
  TempDir d;
  spit(d / "victim", "precious");
  ASSERT_EQ(symlink((d / "victim").c_str(), (d / "link").c_str()), 0);
  const std::string e = error_of([&] { write_file_atomic(d / "link", "x", forced()); });
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  EXPECT_EQ(slurp(d / "victim"), "precious");
  EXPECT_TRUE(std::filesystem::is_symlink(d / "link"));
}

TEST(AtomicFile, RefusesADirectoryAFifoAndADevice) {
  TempDir d;
  std::filesystem::create_directory(d / "dir");
  ASSERT_EQ(mkfifo((d / "fifo").c_str(), 0600), 0);
  EXPECT_NE(error_of([&] {
              write_file_atomic(d / "dir", "x", forced());
            }).find("a directory, not a regular file"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              write_file_atomic(d / "fifo", "x", forced());
            }).find("a FIFO, not a regular file"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::is_fifo(d / "fifo"));
  // /dev/null is refused before anything is created next to it.
  const std::string e = error_of([&] { write_file_atomic("/dev/null", "x", forced()); });
  EXPECT_NE(e.find("'/dev/null'"), std::string::npos) << e;
  EXPECT_NE(e.find("character device"), std::string::npos) << e;
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  EXPECT_EQ(entries(d.path()), (std::vector<std::string>{"dir", "fifo"}));
}

TEST(AtomicFile, RefusesAMissingFolder) {
  TempDir d;
  const std::string e = error_of([&] { write_file_atomic(d / "no/such/out", "x"); });
  EXPECT_NE(e.find("folder"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { write_file_atomic(d / "dir/", "x"); }), "");
  EXPECT_NE(error_of([&] { write_file_atomic("", "x"); }), "");
}

TEST(AtomicFile, RefusesTheInputFileItselfByAnyName) {
  TempDir d;
  spit(d / "in.gguf", "model");
  ASSERT_EQ(link((d / "in.gguf").c_str(), (d / "hard.gguf").c_str()), 0);
  ASSERT_EQ(symlink((d / "in.gguf").c_str(), (d / "sym.gguf").c_str()), 0);
  const AtomicFileOptions o = forced(d / "in.gguf");
  for (const std::string& dest : {d / "in.gguf", d / "hard.gguf", d.path() + "/./in.gguf"}) {
    const std::string e = error_of([&] { write_file_atomic(dest, "x", o); });
    EXPECT_NE(e.find("is the input file"), std::string::npos) << dest << ": " << e;
  }
  // The input named through a symlink: the destination is compared with what it points to.
  const AtomicFileOptions via_link = forced(d / "sym.gguf");
  EXPECT_NE(
      error_of([&] { write_file_atomic(d / "in.gguf", "x", via_link); }).find("is the input file"),
      std::string::npos);
  EXPECT_EQ(slurp(d / "in.gguf"), "model");
  EXPECT_EQ(entries(d.path()), (std::vector<std::string>{"hard.gguf", "in.gguf", "sym.gguf"}));
}

TEST(AtomicFile, APlantedSymlinkAtTheTemporaryNameIsNotFollowed) {
  TempDir d;
  spit(d / "victim", "precious");
  // With getrandom fixed, the first name tried is .out.tmp-00000000.
  ASSERT_EQ(symlink((d / "victim").c_str(), (d / ".out.tmp-00000000").c_str()), 0);
  g_counter = 0;
  g_fixed_random = true;
  {
    AtomicFile f(d / "out");
    g_fixed_random = false;
    EXPECT_EQ(f.temp_path(), d / ".out.tmp-00000001");
    f.write("new");
    f.commit();
  }
  g_fixed_random = false;
  EXPECT_EQ(slurp(d / "victim"), "precious");
  EXPECT_EQ(slurp(d / "out"), "new");
  EXPECT_TRUE(std::filesystem::is_symlink(d / ".out.tmp-00000000"));  // not ours: left alone
}

TEST(AtomicFile, TheDestructorRemovesAnUncommittedFile) {
  TempDir d;
  std::string temp;
  {
    AtomicFile f(d / "out");
    f.write("partial");
    temp = f.temp_path();
    EXPECT_TRUE(std::filesystem::exists(temp));
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_TRUE(entries(d.path()).empty());
}

TEST(AtomicFile, AThrowDuringTheWriteLeavesNothing) {
  TempDir d;
  spit(d / "out", "old");
  try {
    AtomicFile f(d / "out", forced());
    f.write("half");
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(slurp(d / "out"), "old");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"out"});
}

TEST(AtomicFile, WritingThroughTheTemporaryPathIsPublished) {
  TempDir d;
  AtomicFile f(d / "out");
  spit(f.temp_path(), "written by a library");
  f.commit();
  EXPECT_EQ(slurp(d / "out"), "written by a library");
}

// A child writes, then is killed by SIGTERM (or SIGINT) mid-write: with the
// handlers installed, its temporary file is gone and it died of the signal.
void killed_child_leaves_nothing(int sig) {
  TempDir d;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    hearth::fs::install_cleanup_handlers();
    AtomicFile a(d / "a.gguf");
    AtomicFile b(d / "b.gguf");
    a.write("partial");
    if (::write(ready[1], "r", 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  EXPECT_EQ(entries(d.path()).size(), 2u);  // both temporary files exist while it runs
  kill(pid, sig);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), sig);
  EXPECT_TRUE(entries(d.path()).empty());
}

TEST(AtomicFile, SigtermLeavesNoTemporaryFile) { killed_child_leaves_nothing(SIGTERM); }
TEST(AtomicFile, SigintLeavesNoTemporaryFile) { killed_child_leaves_nothing(SIGINT); }

TEST(AtomicFile, ACommittedFileSurvivesTheSignal) {
  TempDir d;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    hearth::fs::install_cleanup_handlers();
    AtomicFile a(d / "done");
    a.write("whole");
    a.commit();
    if (::write(ready[1], "r", 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(slurp(d / "done"), "whole");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"done"});
}

}  // namespace

namespace {

TEST(AtomicFile, ALibraryThatCreatesItsOwnFileCanWriteTheTemporaryName) {
  TempDir d;
  std::string temp;
  {
    AtomicFile f(d / "out");
    f.clear_for_writer();
    temp = f.temp_path();
    EXPECT_FALSE(std::filesystem::exists(temp));
    // Such a library writes NAME.tmp and renames it over NAME.
    spit(temp + ".tmp", "by the library");
    std::filesystem::rename(temp + ".tmp", temp);
    f.commit_as(d / "renamed");
  }
  EXPECT_EQ(slurp(d / "renamed"), "by the library");
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"renamed"});
}

TEST(AtomicFile, AClearedFileIsStillRemovedWhenNotCommitted) {
  TempDir d;
  {
    AtomicFile f(d / "out");
    f.clear_for_writer();
    spit(f.temp_path(), "half");
  }
  EXPECT_TRUE(entries(d.path()).empty());
}

}  // namespace
