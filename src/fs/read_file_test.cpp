// read_file: whole files up to a bound, refused past it (a device that never
// ends included), and with regular_only nothing but regular files, without
// waiting on a FIFO.
#include "fs/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fs/temp_dir_test.h"

namespace {

using hearth::fs::FileError;
using hearth::fs::read_file;
using hearth::fs::test::TempDir;

std::string write(const TempDir& d, const std::string& name, const std::string& bytes) {
  std::ofstream(d / name, std::ios::binary) << bytes;
  return d / name;
}

std::string error_of(const std::string& path, uint64_t max, bool regular_only = false) {
  try {
    read_file(path, max, regular_only);
  } catch (const FileError& e) {
    return e.what();
  }
  return "";
}

TEST(ReadFile, WholeFilesUpToTheBound) {
  TempDir d;
  const std::string bytes("a\0b\nc", 5);
  const std::string p = write(d, "f", bytes);
  EXPECT_EQ(read_file(p, 5), bytes);
  EXPECT_EQ(read_file(p, 5, /*regular_only=*/true), bytes);
  EXPECT_EQ(read_file(write(d, "empty", ""), 0), "");
  EXPECT_EQ(error_of(p, 4), "'" + p + "' is larger than 4 bytes");
}

TEST(ReadFile, ADeviceThatNeverEndsIsRefusedAtTheBound) {
  EXPECT_EQ(error_of("/dev/zero", 1 << 20), "'/dev/zero' is larger than 1048576 bytes");
  EXPECT_EQ(error_of("/dev/zero", 1 << 20, /*regular_only=*/true),
            "'/dev/zero' is not a regular file");
}

TEST(ReadFile, MissingFilesFoldersAndFifosSayWhy) {
  TempDir d;
  EXPECT_EQ(error_of(d.path() + "/none", 10),
            "cannot read '" + d.path() + "/none': No such file or directory");
  EXPECT_EQ(error_of(d.path(), 10), "cannot read '" + d.path() + "': Is a directory");
  EXPECT_EQ(error_of(d.path(), 10, true), "'" + d.path() + "' is not a regular file");
  // A FIFO nobody writes: refused at once, not waited on.
  const std::string fifo = d.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(error_of(fifo, 10, true), "'" + fifo + "' is not a regular file");
}

}  // namespace
