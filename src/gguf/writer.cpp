#include "gguf/writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "gguf/reader.h"

namespace hearth::gguf {

namespace {

// Serializes header fields into a byte vector.
class Sink {
 public:
  explicit Sink(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    put_bytes(&v, sizeof(T));
  }
  void put_bytes(const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, p, n);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    put_bytes(s.data(), s.size());
  }
  void put_value(const Value& v) {
    switch (v.type()) {
      case ValueType::U8:
        put<uint8_t>(static_cast<uint8_t>(v.as_uint()));
        break;
      case ValueType::I8:
        put<int8_t>(static_cast<int8_t>(v.as_int()));
        break;
      case ValueType::U16:
        put<uint16_t>(static_cast<uint16_t>(v.as_uint()));
        break;
      case ValueType::I16:
        put<int16_t>(static_cast<int16_t>(v.as_int()));
        break;
      case ValueType::U32:
        put<uint32_t>(static_cast<uint32_t>(v.as_uint()));
        break;
      case ValueType::I32:
        put<int32_t>(static_cast<int32_t>(v.as_int()));
        break;
      case ValueType::U64:
        put<uint64_t>(v.as_uint());
        break;
      case ValueType::I64:
        put<int64_t>(v.as_int());
        break;
      case ValueType::F32:
        put<float>(static_cast<float>(v.as_float()));
        break;
      case ValueType::F64:
        put<double>(v.as_float());
        break;
      case ValueType::BOOL:
        put<uint8_t>(v.as_bool() ? 1 : 0);
        break;
      case ValueType::STRING:
        put_string(v.as_string());
        break;
      case ValueType::ARRAY: {
        put<uint32_t>(static_cast<uint32_t>(v.elem_type()));
        const uint64_t n = v.array_size();
        put<uint64_t>(n);
        if (v.elem_type() == ValueType::STRING) {
          for (uint64_t i = 0; i < n; ++i) put_string(v.string_at(i));
        } else {
          std::span<const uint8_t> p = v.packed();
          put_bytes(p.data(), p.size());
        }
        break;
      }
    }
  }
  void pad_to(uint64_t alignment) { out_.resize(padded(out_.size(), alignment), 0); }

  static uint64_t padded(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace

void GgufWriter::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

void GgufWriter::copy_metadata(const GgufFile& from) {
  for (const auto& [k, v] : from.metadata()) set(k, v);
}

void GgufWriter::copy_tensors(const GgufFile& from) {
  for (const TensorInfo& t : from.tensors())
    add_tensor(t.name, t.type, std::vector<uint64_t>(t.dims, t.dims + t.n_dims),
               std::span<const uint8_t>(t.data, t.n_bytes));
}

uint64_t GgufWriter::tensor_bytes(const std::string& name, TensorType type,
                                  const std::vector<uint64_t>& dims) {
  const TypeTraits* t = type_traits(type);
  if (!t)
    throw std::invalid_argument("tensor '" + name + "': unknown type " +
                                std::to_string(static_cast<uint32_t>(type)));
  if (dims.empty() || dims.size() > 4)
    throw std::invalid_argument("tensor '" + name + "': " + std::to_string(dims.size()) +
                                " dimensions, needs 1 to 4");
  uint64_t elems = 1;
  for (uint64_t d : dims) {
    if (d == 0) throw std::invalid_argument("tensor '" + name + "': a dimension is zero");
    if (elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d)
      throw std::invalid_argument("tensor '" + name + "': element count overflows");
    elems *= d;
  }
  if (dims[0] % t->block_size != 0)
    throw std::invalid_argument("tensor '" + name + "': row length " + std::to_string(dims[0]) +
                                " is not a multiple of " + std::string(t->name) + "'s block size " +
                                std::to_string(t->block_size));
  return elems / t->block_size * t->block_bytes;
}

void GgufWriter::add(Tensor t) {
  for (const Tensor& o : tensors_)
    if (o.name == t.name) throw std::invalid_argument("duplicate tensor name '" + t.name + "'");
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                            std::span<const uint8_t> data) {
  const uint64_t bytes = tensor_bytes(name, type, dims);
  if (bytes != data.size())
    throw std::invalid_argument("tensor '" + name + "': " + std::to_string(data.size()) +
                                " bytes given, " + std::to_string(bytes) + " expected");
  add({name, type, std::move(dims), bytes, data, nullptr});
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                            Fill fill) {
  if (!fill) throw std::invalid_argument("tensor '" + name + "': no fill function");
  const uint64_t bytes = tensor_bytes(name, type, dims);
  add({name, type, std::move(dims), bytes, {}, std::move(fill)});
}

uint32_t GgufWriter::alignment() const {
  for (const auto& [k, v] : metadata_)
    if (k == "general.alignment") {
      const uint64_t a = v.type() == ValueType::U32 ? v.as_uint() : 0;
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
        throw std::invalid_argument("general.alignment must be a uint32 power of two up to 2^20");
      return static_cast<uint32_t>(a);
    }
  return 32;
}

void GgufWriter::emit(const Emit& out) const {
  const uint32_t align = alignment();
  std::vector<uint8_t> header;
  Sink s(header);
  s.put<uint32_t>(0x46554747);  // "GGUF" little-endian
  s.put<uint32_t>(3);
  s.put<uint64_t>(tensors_.size());
  s.put<uint64_t>(metadata_.size());
  for (const auto& [k, v] : metadata_) {
    s.put_string(k);
    s.put<uint32_t>(static_cast<uint32_t>(v.type()));
    s.put_value(v);
  }
  uint64_t offset = 0;
  uint64_t largest_fill = 0;
  for (const Tensor& t : tensors_) {
    s.put_string(t.name);
    s.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) s.put<uint64_t>(d);
    s.put<uint32_t>(static_cast<uint32_t>(t.type));
    s.put<uint64_t>(offset);
    offset += Sink::padded(t.n_bytes, align);
    if (t.fill) largest_fill = std::max(largest_fill, t.n_bytes);
  }
  if (!tensors_.empty()) s.pad_to(align);
  out(header.data(), header.size());

  // One buffer, sized for the largest generated tensor, serves every fill.
  std::unique_ptr<uint8_t[]> buffer(largest_fill ? new uint8_t[largest_fill] : nullptr);
  static const uint8_t kZeros[64] = {};
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      std::span<uint8_t> span(buffer.get(), t.n_bytes);
      std::fill(span.begin(), span.end(), 0);
      t.fill(span);
      out(span.data(), span.size());
    } else {
      out(t.data.data(), t.data.size());
    }
    for (uint64_t pad = Sink::padded(t.n_bytes, align) - t.n_bytes; pad > 0;) {
      const uint64_t n = std::min<uint64_t>(pad, sizeof kZeros);
      out(kZeros, n);
      pad -= n;
    }
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  emit([&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

void GgufWriter::write(fs::AtomicFile& out) const {
  emit([&](const uint8_t* p, size_t n) { out.write(p, n); });
}

void GgufWriter::write(const std::string& path, const fs::AtomicFileOptions& options) const {
  fs::AtomicFile out(path, options);
  write(out);
  out.commit();
}

void GgufWriter::write(const std::string& path) const {
  fs::AtomicFileOptions replace;
  replace.force = true;
  write(path, replace);
}

}  // namespace hearth::gguf
