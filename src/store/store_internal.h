// Internal to src/store: what store.cpp and store_create.cpp share.
#pragma once

#include <cstdint>
#include <string>

#include "fs/atomic_file.h"
#include "store/store.h"

namespace hearth::store {

struct Store::Found {
  ModelName name;    // as spelled on disk
  std::string path;  // the manifest file
};

}  // namespace hearth::store

namespace hearth::store::detail {

inline constexpr uint64_t kMaxTextBlob = 64u << 20;  // template, system, params, ... are small
inline const std::string kIncoming = "incoming";     // the placeholder name of blobs not yet hashed

// The whole of a small regular file; throws StoreError naming it. A FIFO or
// device planted in the store is refused before it is read.
std::string read_small(const std::string& path, uint64_t max);

// A GGUF path from the user: one that names a file. Throws StoreError.
void check_gguf(const std::string& path);

fs::AtomicFileOptions blob_options();

// Throws StoreError naming the folder.
void make_dirs(const std::string& dir);

// The store's writer lock (store.h): flock on <root>/store.lock, held while
// alive. Each holder opens the file itself, so that two threads of one
// process exclude each other as two processes do.
class StoreLock {
 public:
  explicit StoreLock(const std::string& root);
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace hearth::store::detail
