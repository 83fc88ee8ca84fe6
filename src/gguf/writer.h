// Writes a GGUF v3 file: metadata in insertion order, then tensors aligned to
// `general.alignment` (32 unless set).
//
// write() streams: the header is built in memory (it is small), then each
// tensor's bytes go straight to the file, so a 13 GB model never sits in memory.
// A tensor's bytes come either from a caller's buffer (which must stay alive
// until write()) or from a fill callback run at write time into a buffer of the
// tensor's size, one tensor at a time (synth generates huge models this way).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fs/atomic_file.h"
#include "gguf/types.h"
#include "gguf/value.h"

namespace hearth::gguf {

class GgufFile;

class GgufWriter {
 public:
  // Fills `out` (exactly the tensor's byte size) with the tensor's data.
  using Fill = std::function<void(std::span<uint8_t> out)>;

  // Replaces a key that is already present, keeping its position.
  void set(const std::string& key, Value value);
  void set_string(const std::string& key, std::string v) {
    set(key, Value::of_string(std::move(v)));
  }
  void set_u32(const std::string& key, uint32_t v) { set(key, Value::of_uint(ValueType::U32, v)); }
  void set_f32(const std::string& key, float v) { set(key, Value::of_float(ValueType::F32, v)); }
  void set_bool(const std::string& key, bool v) { set(key, Value::of_bool(v)); }
  void copy_metadata(const GgufFile& from);  // every key of another file
  // Every tensor of another file, in its order; the data is read from `from`'s
  // mapping when the file is written, so `from` must outlive write().
  void copy_tensors(const GgufFile& from);
  void remove(const std::string& key);  // no-op when absent

  // dims fastest-varying first; data.size() must equal the tensor's byte size.
  // Throws std::invalid_argument (bad type, dims, size, duplicate name).
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                  std::span<const uint8_t> data);
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims, Fill fill);

  // Writes to `path` through an fs::AtomicFile (an exclusive temporary
  // sibling, renamed into place once complete) with `options`: anything but a
  // regular file (a directory, a device, a symlink) is refused. Throws
  // std::runtime_error (fs::FileError for the destination) and leaves no
  // temporary file on failure, including an exception from a fill callback.
  void write(const std::string& path, const fs::AtomicFileOptions& options) const;
  // The same, replacing an existing regular file.
  void write(const std::string& path) const;
  // Writes the file into `out`, which the caller commits (or abandons).
  void write(fs::AtomicFile& out) const;
  // The whole file image in memory (tests, fuzz corpus).
  std::vector<uint8_t> to_bytes() const;

  // Byte size of a tensor of `type` and `dims`; std::invalid_argument when the
  // row length is not a multiple of the block size or the size overflows.
  static uint64_t tensor_bytes(const std::string& name, TensorType type,
                               const std::vector<uint64_t>& dims);

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    std::span<const uint8_t> data;  // used when fill is empty
    Fill fill;
  };
  using Emit = std::function<void(const uint8_t* data, size_t n)>;
  uint32_t alignment() const;
  void add(Tensor t);
  void emit(const Emit& out) const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace hearth::gguf
