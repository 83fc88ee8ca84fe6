#include "fs/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth::fs {

namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_file(const std::string& path, uint64_t max_bytes, bool regular_only) {
  const Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0))};
  if (f.fd < 0) throw FileError("cannot read " + quoted_path(path) + ": " + std::strerror(errno));
  struct stat st {};
  if (regular_only && (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)))
    throw FileError(quoted_path(path) + " is not a regular file");
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError("cannot read " + quoted_path(path) + ": " + std::strerror(errno));
    if (n == 0) return out;
    if (out.size() + static_cast<uint64_t>(n) > max_bytes)
      throw FileError(quoted_path(path) + " is larger than " + std::to_string(max_bytes) +
                      " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace hearth::fs
