#include "gguf/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string_view>

namespace hearth::gguf {

namespace {

constexpr uint64_t kMaxAlignment = 1u << 20;  // larger is not a real file's choice
constexpr size_t kMaxTensorName = 64;         // llama.cpp's GGML_MAX_NAME, incl. the NUL

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

std::string fmt_u64(uint64_t v) { return std::to_string(v); }

// Where `s` stops being well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or npos when it is valid throughout.
size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return i;
    i += len;
  }
  return std::string_view::npos;
}

// "byte 0xff at offset 3" for an error message.
std::string utf8_error(std::string_view s, size_t at) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "byte 0x%02x at offset %zu",
                static_cast<unsigned>(static_cast<unsigned char>(s[at])), at);
  return buf;
}

// A name from the file shown in an error: control bytes and bytes >= 0x80 as
// \xNN, so that a crafted file cannot write escape sequences to the terminal.
std::string printable(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

// Owns a read-only mapping of a whole file.
class MappedFile {
 public:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~MappedFile() {
    if (addr_ && size_) munmap(addr_, size_);
  }
  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(addr_), size_}; }

 private:
  void* addr_;
  size_t size_;
};

// Reads little-endian fields from the image, refusing to step past its end.
class Cursor {
 public:
  Cursor(const GgufFile& file, std::span<const uint8_t> bytes,
         void (GgufFile::*fail)(const std::string&) const)
      : file_(file), bytes_(bytes), fail_(fail) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      (file_.*fail_)("truncated: " + what + " needs " + fmt_u64(n) + " bytes at offset " +
                     fmt_u64(pos_) + ", only " + fmt_u64(remaining()) + " remain");
  }

  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::span<const uint8_t> read_bytes(uint64_t n, const std::string& what) {
    need(n, what);
    std::span<const uint8_t> s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  // Whether a whole string (length and bytes) lies at the cursor.
  bool string_fits() const {
    if (remaining() < 8) return false;
    uint64_t len;
    std::memcpy(&len, bytes_.data() + pos_, 8);
    return len <= remaining() - 8;
  }

  // A string; GGUF strings are UTF-8, and one that is not is an error naming
  // `what` (for an array element, what_index() names it, built only then).
  std::string read_string(const std::string& what,
                          const std::function<std::string()>& what_index = nullptr) {
    uint64_t len = read<uint64_t>(what + " length");
    if (len > remaining())
      (file_.*fail_)(what + ": string length " + fmt_u64(len) + " exceeds the " +
                     fmt_u64(remaining()) + " bytes left in the file");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    if (const size_t bad = invalid_utf8_at(s); bad != std::string_view::npos)
      (file_.*fail_)((what_index ? what_index() : what) + ": string is not valid UTF-8 (" +
                     utf8_error(s, bad) + "): \"" + printable(s.substr(0, 64)) +
                     (s.size() > 64 ? "...\"" : "\""));
    pos_ += len;
    return s;
  }

 private:
  const GgufFile& file_;
  std::span<const uint8_t> bytes_;
  void (GgufFile::*fail_)(const std::string&) const;
  uint64_t pos_ = 0;
};

GgufFile::~GgufFile() = default;

void GgufFile::fail(const std::string& what) const {
  throw GgufError("model file '" + path_ + "': " + what);
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) f->fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    f->fail("not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    f->fail("truncated: the file is empty");
  }
  void* addr = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) f->fail(std::string("cannot map: ") + std::strerror(errno));
  f->map_ = std::make_unique<MappedFile>(addr, size);
  f->bytes_ = f->map_->bytes();
  f->parse_all();
  return f;
}

void GgufFile::release_pages(const TensorInfo& t) const {
  if (!map_ || t.n_bytes == 0) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + t.n_bytes) / page * page;
  // Advice only: a kernel that refuses it leaves the pages resident, as before.
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::unique_ptr<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(name);
  f->bytes_ = bytes;
  f->parse_all();
  return f;
}

namespace {

Value read_value(Cursor& c, ValueType type, const std::string& what, int depth,
                 const std::function<void(const std::string&)>& fail);

}  // namespace

void GgufFile::parse_all() {
  Cursor c(*this, bytes_, &GgufFile::fail);
  auto failer = [this](const std::string& m) { fail(m); };

  c.need(4, "magic");
  if (std::memcmp(bytes_.data(), "GGUF", 4) != 0) fail("bad magic: not a GGUF file");
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    const bool swapped = version_ == 0x02000000u || version_ == 0x03000000u;
    fail("unsupported GGUF version " + fmt_u64(version_) + " (hearth reads 2 and 3" +
         (swapped ? "; this looks like a big-endian file)" : ")"));
  }
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");

  // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes.
  if (n_kv > c.remaining() / 13)
    fail("metadata count " + fmt_u64(n_kv) + " cannot fit in the " + fmt_u64(c.remaining()) +
         " bytes left");
  // A tensor entry takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
  if (n_tensors > c.remaining() / 24)
    fail("tensor count " + fmt_u64(n_tensors) + " cannot fit in the " + fmt_u64(c.remaining()) +
         " bytes left");

  // Counts are only bounded by the file size so far; memory grows with the
  // entries actually read rather than with what the header claims.
  constexpr uint64_t kReserveLimit = 4096;
  metadata_.reserve(std::min(n_kv, kReserveLimit));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key " + fmt_u64(i));
    uint32_t type = c.read<uint32_t>("type of metadata '" + printable(key) + "'");
    if (!known_value_type(type))
      fail("metadata '" + printable(key) + "' has unknown value type " + fmt_u64(type));
    Value v =
        read_value(c, static_cast<ValueType>(type), "metadata '" + printable(key) + "'", 0, failer);
    if (metadata_index_.count(key)) fail("duplicate metadata key '" + printable(key) + "'");
    metadata_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = find("general.alignment")) {
    if (a->type() != ValueType::U32)
      fail("general.alignment has type " + std::string(value_type_name(a->type())) +
           ", expected uint32");
    uint64_t align = a->as_uint();
    if (align == 0 || (align & (align - 1)) != 0)
      fail("general.alignment " + fmt_u64(align) + " is not a power of two");
    if (align > kMaxAlignment)
      fail("general.alignment " + fmt_u64(align) + " is absurd (more than " +
           fmt_u64(kMaxAlignment) + ")");
    alignment_ = static_cast<uint32_t>(align);
  }

  tensors_.reserve(std::min(n_tensors, kReserveLimit));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.read_string("tensor " + fmt_u64(i) + " name");
    const std::string tn = "tensor '" + printable(t.name) + "'";
    if (t.name.size() >= kMaxTensorName)
      fail(tn + ": name is " + fmt_u64(t.name.size()) + " bytes, the limit is " +
           fmt_u64(kMaxTensorName - 1));
    t.n_dims = c.read<uint32_t>(tn + " dimension count");
    if (t.n_dims > 4) fail(tn + " has " + fmt_u64(t.n_dims) + " dimensions, at most 4 allowed");
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      uint64_t n = c.read<uint64_t>(tn + " dimension " + fmt_u64(d));
      if (n == 0) fail(tn + " dimension " + fmt_u64(d) + " is zero");
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(tn + " dimension " + fmt_u64(d) + " is negative (" +
             std::to_string(static_cast<int64_t>(n)) + ")");
      t.dims[d] = n;
    }
    uint32_t type = c.read<uint32_t>(tn + " type");
    const TypeTraits* traits = type_traits(type);
    if (!traits) fail(tn + " has unknown tensor type " + fmt_u64(type));
    t.type = static_cast<TensorType>(type);
    t.offset = c.read<uint64_t>(tn + " offset");

    // Element count and byte size, refusing overflow of int64.
    uint64_t elems = 1;
    for (int d = 0; d < 4; ++d) {
      if (elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / t.dims[d])
        fail(tn + " element count overflows");
      elems *= t.dims[d];
    }
    if (t.dims[0] % traits->block_size != 0)
      fail(tn + " row length " + fmt_u64(t.dims[0]) + " is not a multiple of " +
           std::string(traits->name) + "'s block size " + fmt_u64(traits->block_size));
    uint64_t blocks = elems / traits->block_size;
    if (blocks > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / traits->block_bytes)
      fail(tn + " byte size overflows");
    t.n_bytes = blocks * traits->block_bytes;
    if (t.offset % alignment_ != 0)
      fail(tn + " offset " + fmt_u64(t.offset) + " is not a multiple of the alignment " +
           fmt_u64(alignment_));
    if (tensor_index_.count(t.name)) fail("duplicate tensor name '" + printable(t.name) + "'");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  uint64_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;  // vocab-only files may end right after the header
  if (data_offset_ > bytes_.size())
    fail("truncated: tensor data would start at " + fmt_u64(data_offset_) + ", past the end (" +
         fmt_u64(bytes_.size()) + " bytes)");
  const uint64_t blob = bytes_.size() - data_offset_;
  for (TensorInfo& t : tensors_) {
    if (t.offset > blob || t.n_bytes > blob - t.offset)
      fail("tensor '" + printable(t.name) + "' extends past end of file (offset " +
           fmt_u64(t.offset) + ", size " + fmt_u64(t.n_bytes) + ", data blob " + fmt_u64(blob) +
           ")");
    t.data = bytes_.data() + data_offset_ + t.offset;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* a = by_offset[i - 1];
    const TensorInfo* b = by_offset[i];
    if (a->offset + a->n_bytes > b->offset)
      fail("tensor '" + b->name + "' (offset " + fmt_u64(b->offset) + ") overlaps tensor '" +
           a->name + "' (offset " + fmt_u64(a->offset) + ", size " + fmt_u64(a->n_bytes) + ")");
  }
}

namespace {

Value read_value(Cursor& c, ValueType type, const std::string& what, int depth,
                 const std::function<void(const std::string&)>& fail) {
  switch (type) {
    case ValueType::U8:
      return Value::of_uint(type, c.read<uint8_t>(what));
    case ValueType::I8:
      return Value::of_int(type, c.read<int8_t>(what));
    case ValueType::U16:
      return Value::of_uint(type, c.read<uint16_t>(what));
    case ValueType::I16:
      return Value::of_int(type, c.read<int16_t>(what));
    case ValueType::U32:
      return Value::of_uint(type, c.read<uint32_t>(what));
    case ValueType::I32:
      return Value::of_int(type, c.read<int32_t>(what));
    case ValueType::U64:
      return Value::of_uint(type, c.read<uint64_t>(what));
    case ValueType::I64:
      return Value::of_int(type, c.read<int64_t>(what));
    case ValueType::F32:
      return Value::of_float(type, c.read<float>(what));
    case ValueType::F64:
      return Value::of_float(type, c.read<double>(what));
    case ValueType::BOOL: {
      uint8_t b = c.read<uint8_t>(what);
      if (b > 1) fail(what + ": bool value " + std::to_string(b) + " is neither 0 nor 1");
      return Value::of_bool(b != 0);
    }
    case ValueType::STRING:
      return Value::of_string(c.read_string(what));
    case ValueType::ARRAY: {
      if (depth > 0) fail(what + ": nested arrays are not supported");
      uint32_t elem = c.read<uint32_t>(what + " element type");
      if (!known_value_type(elem))
        fail(what + " has unknown array element type " + std::to_string(elem));
      auto et = static_cast<ValueType>(elem);
      if (et == ValueType::ARRAY) fail(what + ": nested arrays are not supported");
      uint64_t n = c.read<uint64_t>(what + " array length");
      // Strings take at least their 8-byte length; fixed-size elements their size.
      const uint64_t min_size = et == ValueType::STRING ? 8 : Value::value_type_size(et);
      if (n > c.remaining() / min_size)
        fail(what + ": array length " + std::to_string(n) + " of " +
             std::string(value_type_name(et)) + " cannot fit in the " +
             std::to_string(c.remaining()) + " bytes left");
      if (et == ValueType::STRING) {
        std::vector<std::string> elems;
        elems.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
          // The element's name is built only for the error (a vocabulary has 10^5 strings).
          if (c.string_fits())
            elems.push_back(
                c.read_string(what, [&] { return what + "[" + std::to_string(i) + "]"; }));
          else
            c.read_string(what + "[" + std::to_string(i) + "]");
        }
        return Value::of_strings(std::move(elems));
      }
      std::span<const uint8_t> raw = c.read_bytes(n * min_size, what + " array data");
      if (et == ValueType::BOOL)
        for (uint64_t i = 0; i < n; ++i)
          if (raw[i] > 1)
            fail(what + "[" + std::to_string(i) + "]: bool value " + std::to_string(raw[i]) +
                 " is neither 0 nor 1");
      return Value::of_packed(et, std::vector<uint8_t>(raw.begin(), raw.end()));
    }
  }
  fail(what + ": unknown value type");
  return {};
}

}  // namespace

const Value* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

template <typename F>
static auto typed_get(const GgufFile& f, const std::string& key, F read) {
  try {
    return read();
  } catch (const GgufError&) {
    throw;
  } catch (const std::exception& e) {
    throw GgufError("model file '" + f.path() + "': metadata '" + key + "': " + e.what());
  }
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  return typed_get(*this, key, [&] { return v->as_string(); });
}

uint64_t GgufFile::get_uint(const std::string& key, uint64_t fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  return typed_get(*this, key, [&] { return v->as_uint(); });
}

int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  return typed_get(*this, key, [&] { return v->as_int(); });
}

double GgufFile::get_float(const std::string& key, double fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  return typed_get(*this, key, [&] { return v->as_float(); });
}

bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  return typed_get(*this, key, [&] { return v->as_bool(); });
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return {};
  return typed_get(*this, key, [&] {
    std::vector<std::string> out;
    const uint64_t n = v->array_size();
    out.reserve(n);
    for (uint64_t i = 0; i < n; ++i) out.push_back(v->string_at(i));
    return out;
  });
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return {};
  return typed_get(*this, key, [&] {
    std::vector<float> out;
    const uint64_t n = v->array_size();
    out.reserve(n);
    for (uint64_t i = 0; i < n; ++i) out.push_back(static_cast<float>(v->at(i).as_float()));
    return out;
  });
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return {};
  return typed_get(*this, key, [&] {
    std::vector<int64_t> out;
    const uint64_t n = v->array_size();
    out.reserve(n);
    for (uint64_t i = 0; i < n; ++i) out.push_back(v->at(i).as_int());
    return out;
  });
}

}  // namespace hearth::gguf
