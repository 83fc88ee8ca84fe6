// Crash-safe file output for the whole program. A file is written to a
// temporary sibling created exclusively (`.NAME.tmp-XXXXXXXX`, O_EXCL|O_NOFOLLOW,
// so a planted symlink is never followed), fsynced, renamed over the
// destination, and the folder fsynced: a reader sees the old file or the
// whole new one, never half of one. An interrupted run leaves no temporary
// file: the destructor unlinks an uncommitted one, and the handlers of
// install_cleanup_handlers() unlink the live ones on SIGINT/SIGTERM/SIGHUP.
//
// A destination is replaced only when it is a regular file (never a
// directory, device, FIFO, socket or symlink: checked with lstat), only with
// `force`, and never when it is the same file as the input being read.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hearth::fs {

// Every failure here: the message names the path, the reason and, where one
// exists, what would allow it ("'out.gguf' exists (pass --force to replace it)").
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A path as every message here shows it: 'path'.
std::string quoted_path(const std::string& path);

struct AtomicFileOptions {
  bool force = false;               // replace an existing regular file
  std::string same_file_forbidden;  // an input path; refuse a destination that is that file
  std::string force_hint = "pass --force to replace it";  // said when the destination exists
  mode_t mode =
      0644;  // permissions of a new file (the umask applies); a replaced file keeps its own
};

// Throws FileError when writing `dest` with `options` would be refused (see
// above), or when its folder does not exist. AtomicFile checks this itself,
// at construction and again just before the rename; call it to fail before
// long work.
void check_destination(const std::string& dest, const AtomicFileOptions& options);

class AtomicFile {
 public:
  using Options = AtomicFileOptions;

  // Checks the destination and creates the temporary file. Throws FileError.
  explicit AtomicFile(std::string dest, Options options = {});
  // Unlinks the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // The open temporary file (O_WRONLY, close-on-exec); -1 after commit().
  int fd() const { return fd_; }
  const std::string& path() const { return dest_; }
  // Code that can only write to a path (a library taking a file name) may
  // write here; commit() then publishes whatever the file holds.
  const std::string& temp_path() const { return temp_; }

  // Writes all `n` bytes (retrying short writes and EINTR); FileError on failure.
  void write(const void* data, size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  // For a library that creates its output file itself (and may refuse an
  // existing one): closes and removes the temporary file but keeps its name
  // reserved for cleanup; the library then creates temp_path() and commit()
  // publishes what it wrote.
  void clear_for_writer();

  // fsync, close, re-check the destination, rename over it, fsync the folder.
  // After a failure the temporary file is still removed by the destructor.
  void commit();
  // commit() under another name in the same folder: for content-addressed
  // files, whose name is known only once their bytes are.
  void commit_as(std::string dest);
  bool committed() const { return committed_; }

 private:
  std::string dest_, temp_;
  Options options_;
  int fd_ = -1;
  int slot_ = -1;  // index in the signal-cleanup registry, -1 when not registered
  bool committed_ = false;
};

// The whole of `bytes` to `dest` through an AtomicFile.
void write_file_atomic(const std::string& dest, std::string_view bytes,
                       const AtomicFileOptions& options = {});

// Installs SIGINT, SIGTERM and SIGHUP handlers that unlink every live
// temporary file and then die of the signal with its default action. Call
// once from main(). A signal whose disposition is not the default (ignored,
// or another handler) is left alone; such a handler may call
// unlink_temp_files() itself.
void install_cleanup_handlers();

// Unlinks every live temporary file; async-signal-safe (unlink only).
void unlink_temp_files() noexcept;

}  // namespace hearth::fs
