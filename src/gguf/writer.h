// Writes a GGUF v3 file: metadata in insertion order, then tensors aligned to
// `general.alignment` (32 unless set). Tensor bytes are copied from the caller's
// buffers at write() time, so they must stay alive until then.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gguf/types.h"
#include "gguf/value.h"

namespace hearth::gguf {

class GgufFile;

class GgufWriter {
 public:
  // Replaces a key that is already present, keeping its position.
  void set(const std::string& key, Value value);
  void set_string(const std::string& key, std::string v) { set(key, Value::of_string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, Value::of_uint(ValueType::U32, v)); }
  void set_f32(const std::string& key, float v) { set(key, Value::of_float(ValueType::F32, v)); }
  void set_bool(const std::string& key, bool v) { set(key, Value::of_bool(v)); }
  void copy_metadata(const GgufFile& from);  // every key of another file

  // dims fastest-varying first; data.size() must equal the tensor's byte size.
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                  std::span<const uint8_t> data);

  // Writes to `path` through a temporary file renamed into place; throws std::runtime_error.
  void write(const std::string& path) const;
  // The whole file image in memory (tests, fuzz corpus).
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    std::span<const uint8_t> data;
  };
  uint32_t alignment() const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace hearth::gguf
