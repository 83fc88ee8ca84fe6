// libFuzzer target: GgufFile::parse on arbitrary bytes. A bad file must end in a
// GgufError (any other exception aborts the run as a finding); a file that
// parses must have every metadata value readable and every tensor's bytes
// inside the input (the sanitizers check each read).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "gguf/reader.h"

namespace {

volatile uint64_t g_sink;  // keeps the reads below from being optimized away

void touch(const hearth::gguf::Value& v) {
  using hearth::gguf::ValueType;
  uint64_t h = static_cast<uint64_t>(v.type());
  switch (v.type()) {
    case ValueType::STRING:
      h += v.as_string().size();
      break;
    case ValueType::ARRAY:
      for (uint64_t i = 0; i < v.array_size(); ++i) {
        if (v.elem_type() == ValueType::STRING) {
          h += v.string_at(i).size();
        } else {
          touch(v.at(i));
        }
      }
      break;
    case ValueType::BOOL:
      h += v.as_bool();
      break;
    default:
      h += v.as_float() > 0;
  }
  g_sink = g_sink + h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<hearth::gguf::GgufFile> f;
  try {
    f = hearth::gguf::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const hearth::gguf::GgufError&) {
    return 0;
  }
  for (const auto& [key, value] : f->metadata()) {
    touch(value);
    g_sink = g_sink + (f->find(key) == &value);
  }
  for (const auto& t : f->tensors()) {
    // First and last byte of each tensor: ASan reports a read outside the input.
    g_sink = g_sink + t.data[0] + t.data[t.n_bytes - 1] + t.n_elements();
    if (f->find_tensor(t.name) != &t) __builtin_trap();
  }
  // Typed getters either answer or refuse with GgufError, never anything else.
  for (const char* key : {"general.architecture", "tokenizer.ggml.tokens", "general.alignment"}) {
    try {
      g_sink = g_sink + f->get_string(key).size();
    } catch (const hearth::gguf::GgufError&) {
    }
    try {
      g_sink = g_sink + f->get_string_array(key).size() + f->get_float_array(key).size() +
               f->get_int_array(key).size();
    } catch (const hearth::gguf::GgufError&) {
    }
    try {
      g_sink = g_sink + f->get_uint(key, 0) + (f->get_float(key, 0) > 0);
    } catch (const hearth::gguf::GgufError&) {
    }
  }
  return 0;
}
