#include "gguf/writer.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "gguf/reader.h"

namespace hearth::gguf {

namespace {

class Sink {
 public:
  explicit Sink(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.insert(out_.end(), b, b + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void put_value(const Value& v) {
    switch (v.type()) {
      case ValueType::U8: put<uint8_t>(static_cast<uint8_t>(v.as_uint())); break;
      case ValueType::I8: put<int8_t>(static_cast<int8_t>(v.as_int())); break;
      case ValueType::U16: put<uint16_t>(static_cast<uint16_t>(v.as_uint())); break;
      case ValueType::I16: put<int16_t>(static_cast<int16_t>(v.as_int())); break;
      case ValueType::U32: put<uint32_t>(static_cast<uint32_t>(v.as_uint())); break;
      case ValueType::I32: put<int32_t>(static_cast<int32_t>(v.as_int())); break;
      case ValueType::U64: put<uint64_t>(v.as_uint()); break;
      case ValueType::I64: put<int64_t>(v.as_int()); break;
      case ValueType::F32: put<float>(static_cast<float>(v.as_float())); break;
      case ValueType::F64: put<double>(v.as_float()); break;
      case ValueType::BOOL: put<uint8_t>(v.as_bool() ? 1 : 0); break;
      case ValueType::STRING: put_string(v.as_string()); break;
      case ValueType::ARRAY:
        put<uint32_t>(static_cast<uint32_t>(v.elem_type()));
        put<uint64_t>(v.as_array().size());
        for (const Value& e : v.as_array()) put_value(e);
        break;
    }
  }
  void pad_to(uint64_t alignment) {
    while (out_.size() % alignment) out_.push_back(0);
  }

 private:
  std::vector<uint8_t>& out_;
};

uint64_t padded(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

void GgufWriter::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::copy_metadata(const GgufFile& from) {
  for (const auto& [k, v] : from.metadata()) set(k, v);
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                            std::span<const uint8_t> data) {
  const TypeTraits* t = type_traits(type);
  if (!t) throw std::runtime_error("tensor '" + name + "': unknown type");
  if (dims.empty() || dims.size() > 4)
    throw std::runtime_error("tensor '" + name + "': needs 1 to 4 dimensions");
  uint64_t elems = 1;
  for (uint64_t d : dims) elems *= d;
  if (dims[0] % t->block_size != 0)
    throw std::runtime_error("tensor '" + name + "': row length is not a multiple of the block size");
  uint64_t bytes = elems / t->block_size * t->block_bytes;
  if (bytes != data.size())
    throw std::runtime_error("tensor '" + name + "': " + std::to_string(data.size()) +
                             " bytes given, " + std::to_string(bytes) + " expected");
  tensors_.push_back({name, type, std::move(dims), data});
}

uint32_t GgufWriter::alignment() const {
  for (const auto& [k, v] : metadata_)
    if (k == "general.alignment") return static_cast<uint32_t>(v.as_uint());
  return 32;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  Sink s(out);
  const uint32_t align = alignment();
  out.insert(out.end(), {'G', 'G', 'U', 'F'});
  s.put<uint32_t>(3);
  s.put<uint64_t>(tensors_.size());
  s.put<uint64_t>(metadata_.size());
  for (const auto& [k, v] : metadata_) {
    s.put_string(k);
    s.put<uint32_t>(static_cast<uint32_t>(v.type()));
    s.put_value(v);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    s.put_string(t.name);
    s.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) s.put<uint64_t>(d);
    s.put<uint32_t>(static_cast<uint32_t>(t.type));
    s.put<uint64_t>(offset);
    offset += padded(t.data.size(), align);
  }
  if (tensors_.empty()) return out;
  s.pad_to(align);
  for (const Tensor& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    s.pad_to(align);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot create '" + tmp + "': " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write '" + path + "': " + std::strerror(errno));
  }
}

}  // namespace hearth::gguf
