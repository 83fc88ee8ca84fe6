// Reads a GGUF v2/v3 model file through a read-only memory mapping.
//
// Everything in the file is untrusted: the reader checks every count, length,
// dimension and offset against the file's size before it reads or allocates,
// and refuses a bad file with a GgufError that names the file, the field and
// the numbers. Tensor data is never copied: TensorInfo::data points into the map.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/types.h"
#include "gguf/value.h"

namespace hearth::gguf {

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  uint32_t n_dims = 0;
  uint64_t dims[4] = {1, 1, 1, 1};  // fastest-varying first: {n_embd, n_vocab}
  uint64_t offset = 0;              // from the start of the data blob
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  uint64_t n_elements() const { return dims[0] * dims[1] * dims[2] * dims[3]; }
  uint64_t n_rows() const { return dims[1] * dims[2] * dims[3]; }
};

class MappedFile;

class GgufFile {
 public:
  // Maps and validates the file; throws GgufError.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Validates an in-memory image (the fuzzer's entry point); `bytes` must outlive the result.
  static std::unique_ptr<GgufFile> parse(std::span<const uint8_t> bytes, std::string name);
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(const std::string& key) const;  // nullptr when absent
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Typed reads: the default when the key is absent; GgufError when present but of the wrong kind.
  std::string get_string(const std::string& key, const std::string& fallback = "") const;
  uint64_t get_uint(const std::string& key, uint64_t fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  // Arrays of strings / numbers; empty when absent.
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;  // nullptr when absent
  // Drops the whole pages of t's data from this process's resident memory,
  // for a tensor the backend has copied (a repacked weight reads its source
  // again only for the odd embedding row). t.data stays valid: a page read
  // again comes back from the file (or the page cache). Pages t shares with a
  // neighbouring tensor stay. Nothing for an image given to parse().
  void release_pages(const TensorInfo& t) const;

 private:
  GgufFile() = default;
  void parse_all();
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace hearth::gguf
