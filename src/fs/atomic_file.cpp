#include "fs/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

namespace hearth::fs {

std::string quoted_path(const std::string& path) { return "'" + path + "'"; }

namespace {

// ---- the registry of live temporary files, read by the signal handler ----
//
// A slot is 0 (free), 1 (being filled or emptied: the handler skips it) or 2
// (live: the handler unlinks path). Lock-free atomics are async-signal-safe.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
std::atomic<int> g_state[kSlots];
char g_path[kSlots][kPathMax];
static_assert(std::atomic<int>::is_always_lock_free);

// Claims a free slot and writes `path` into it, leaving it not yet live.
int claim_slot(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_state[i].compare_exchange_strong(expected, 1)) {
      std::memcpy(g_path[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;  // full: this file is still removed by its destructor, not by a signal
}

void unregister_temp(int slot) {
  if (slot >= 0) g_state[slot].store(0);
}

void on_signal(int sig) {
  const int saved = errno;
  unlink_temp_files();
  errno = saved;
  // SA_RESETHAND restored the default action and SA_NODEFER left the signal
  // unblocked: this kills the process as the signal would have.
  raise(sig);
}

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The checks of check_destination(); fills `existing` when dest exists.
bool check(const std::string& dest, const AtomicFileOptions& options, struct stat* existing) {
  if (dest.empty()) throw FileError("no output file given");
  if (dest.back() == '/')
    throw FileError("cannot write " + quoted_path(dest) + ": it names a folder");
  struct stat st;
  if (lstat(dest.c_str(), &st) != 0) {
    if (errno != ENOENT)
      throw FileError("cannot write " + quoted_path(dest) + ": " + errno_text(errno));
    const std::string dir = parent_of(dest);
    struct stat dst;
    if (stat(dir.c_str(), &dst) != 0)
      throw FileError("cannot write " + quoted_path(dest) + ": folder " + quoted_path(dir) + ": " +
                      errno_text(errno));
    if (!S_ISDIR(dst.st_mode))
      throw FileError("cannot write " + quoted_path(dest) + ": " + quoted_path(dir) +
                      " is not a folder");
    return false;
  }
  if (!S_ISREG(st.st_mode))
    throw FileError("refusing to write " + quoted_path(dest) + ": it is " + kind_of(st.st_mode) +
                    ", not a regular file (choose another output path)");
  if (!options.same_file_forbidden.empty()) {
    struct stat in;
    if (stat(options.same_file_forbidden.c_str(), &in) == 0 && in.st_dev == st.st_dev &&
        in.st_ino == st.st_ino)
      throw FileError("refusing to write " + quoted_path(dest) + ": it is the input file " +
                      quoted_path(options.same_file_forbidden) +
                      " (write to another path; replacing the input while reading it would "
                      "destroy it)");
  }
  if (!options.force) throw FileError(quoted_path(dest) + " exists (" + options.force_hint + ")");
  if (existing) *existing = st;
  return true;
}

void fsync_dir(const std::string& dir) {
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;  // the rename happened; a folder we cannot open is not worth failing for
  fsync(dfd);
  close(dfd);
}

std::string random_suffix() {
  unsigned char bytes[4];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += static_cast<size_t>(n);
  }
  if (got < sizeof bytes) {  // no getrandom: mix the clock and the pid, O_EXCL still protects
    const unsigned v = static_cast<unsigned>(getpid()) * 2654435761u ^
                       static_cast<unsigned>(time(nullptr)) ^
                       static_cast<unsigned>(reinterpret_cast<uintptr_t>(&bytes));
    std::memcpy(bytes, &v, sizeof bytes);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

}  // namespace

void check_destination(const std::string& dest, const AtomicFileOptions& options) {
  check(dest, options, nullptr);
}

AtomicFile::AtomicFile(std::string dest, Options options)
    : dest_(std::move(dest)), options_(std::move(options)) {
  struct stat existing;
  const bool replacing = check(dest_, options_, &existing);
  const mode_t mode = replacing ? (existing.st_mode & 07777) : options_.mode;

  const std::string dir = parent_of(dest_);
  const size_t slash = dest_.rfind('/');
  const std::string prefix = slash == std::string::npos ? "" : dest_.substr(0, slash + 1);
  std::string base = base_of(dest_);
  if (base.size() > 200) base.resize(200);  // keep the temporary name within NAME_MAX
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string temp = prefix + "." + base + ".tmp-" + random_suffix();
    // The slot is claimed (path written, not yet live) before the file is
    // created and made live right after, so that a signal can neither miss
    // our file for long nor unlink a file of the same name that is not ours.
    const int slot = claim_slot(temp);
    const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      if (slot >= 0) g_state[slot].store(2);
      if (replacing) fchmod(fd, mode);  // the umask may have narrowed it
      fd_ = fd;
      temp_ = std::move(temp);
      slot_ = slot;
      return;
    }
    const int err = errno;
    unregister_temp(slot);
    if (err == EEXIST || err == ELOOP) continue;  // taken (or a planted link): another name
    throw FileError("cannot write " + quoted_path(dest_) + ": creating a temporary file in " +
                    quoted_path(dir) + ": " + errno_text(err));
  }
  throw FileError("cannot write " + quoted_path(dest_) + ": no free temporary name in " +
                  quoted_path(dir));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_ && !temp_.empty()) unlink(temp_.c_str());
  unregister_temp(slot_);
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw FileError("cannot write " + quoted_path(dest_) + ": the file is not open");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw FileError("cannot write " + quoted_path(dest_) + ": " + errno_text(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::clear_for_writer() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  unlink(temp_.c_str());
}

void AtomicFile::commit_as(std::string dest) {
  dest_ = std::move(dest);
  commit();
}

void AtomicFile::commit() {
  if (committed_) return;
  // The bytes may have been written through temp_path() by a library that
  // replaced the file: flush what is there now, by name, without following links.
  const int fd = fd_ >= 0 ? fd_ : open(temp_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  fd_ = -1;
  if (fd < 0)
    throw FileError("cannot write " + quoted_path(dest_) + ": " + quoted_path(temp_) + ": " +
                    errno_text(errno));
  struct stat by_fd, by_name;
  if (fstat(fd, &by_fd) == 0 && lstat(temp_.c_str(), &by_name) == 0 &&
      (by_fd.st_ino != by_name.st_ino || by_fd.st_dev != by_name.st_dev)) {
    const int named = open(temp_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (named >= 0) {
      fsync(named);
      close(named);
    }
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    throw FileError("cannot write " + quoted_path(dest_) + ": fsync: " + errno_text(err));
  }
  if (close(fd) != 0)
    throw FileError("cannot write " + quoted_path(dest_) + ": close: " + errno_text(errno));
  // Again: something may have appeared at the destination while we wrote.
  check(dest_, options_, nullptr);
  if (!options_.force) {
    // No replacing, even of a file created since the check.
    if (renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_NOREPLACE) != 0) {
      const int err = errno;
      if (err == EEXIST)
        throw FileError(quoted_path(dest_) + " exists (" + options_.force_hint + ")");
      if (err != EINVAL && err != ENOSYS)
        throw FileError("cannot write " + quoted_path(dest_) + ": rename: " + errno_text(err));
      // A file system without RENAME_NOREPLACE: link() also refuses an existing name.
      if (link(temp_.c_str(), dest_.c_str()) != 0) {
        const int lerr = errno;
        if (lerr == EEXIST)
          throw FileError(quoted_path(dest_) + " exists (" + options_.force_hint + ")");
        throw FileError("cannot write " + quoted_path(dest_) + ": link: " + errno_text(lerr));
      }
      unlink(temp_.c_str());
    }
  } else if (rename(temp_.c_str(), dest_.c_str()) != 0) {
    throw FileError("cannot write " + quoted_path(dest_) + ": rename: " + errno_text(errno));
  }
  committed_ = true;
  unregister_temp(slot_);
  slot_ = -1;
  fsync_dir(parent_of(dest_));
}

void write_file_atomic(const std::string& dest, std::string_view bytes,
                       const AtomicFileOptions& options) {
  AtomicFile f(dest, options);
  f.write(bytes);
  f.commit();
}

void unlink_temp_files() noexcept {
  for (int i = 0; i < kSlots; ++i)
    if (g_state[i].load() == 2) unlink(g_path[i]);
}

void install_cleanup_handlers() {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace hearth::fs
