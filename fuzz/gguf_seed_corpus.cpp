// Writes the GGUF fuzzer's seed corpus: small valid files that exercise every
// value type, every tensor type, alignments and a vocabulary-only layout, plus
// broken variants of them (truncated, wrong magic/version, oversized counts).
// Usage: gguf_seed_corpus DIR
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace {

using hearth::gguf::GgufWriter;
using hearth::gguf::TensorType;
using hearth::gguf::Value;
using hearth::gguf::ValueType;

std::vector<uint8_t> metadata_file() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set("u8", Value::of_uint(ValueType::U8, 7));
  w.set("i8", Value::of_int(ValueType::I8, -7));
  w.set("u16", Value::of_uint(ValueType::U16, 700));
  w.set("i16", Value::of_int(ValueType::I16, -700));
  w.set_u32("llama.block_count", 2);
  w.set("i32", Value::of_int(ValueType::I32, -70000));
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("flag", true);
  w.set("u64", Value::of_uint(ValueType::U64, 1ull << 40));
  w.set("i64", Value::of_int(ValueType::I64, -(1ll << 40)));
  w.set("f64", Value::of_float(ValueType::F64, 0.5));
  w.set("tokenizer.ggml.tokens", Value::of_strings({"<unk>", "<s>", "</s>", "\xe2\x96\x81the"}));
  w.set("tokenizer.ggml.scores",
        Value::of_array(ValueType::F32,
                        {Value::of_float(ValueType::F32, 0), Value::of_float(ValueType::F32, -1)}));
  w.set("tokenizer.ggml.token_type",
        Value::of_array(ValueType::I32,
                        {Value::of_int(ValueType::I32, 2), Value::of_int(ValueType::I32, 3)}));
  w.set("bools", Value::of_array(ValueType::BOOL, {Value::of_bool(true), Value::of_bool(false)}));
  w.set("u64s", Value::of_array(ValueType::U64, {Value::of_uint(ValueType::U64, 9)}));
  return w.to_bytes();
}

std::vector<uint8_t> tensor_file(uint32_t alignment) {
  static const TensorType kTypes[] = {
      TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
      TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
      TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  if (alignment != 32) w.set_u32("general.alignment", alignment);
  static std::vector<std::vector<uint8_t>> keep;  // the writer holds spans into these
  for (TensorType t : kTypes) {
    const bool k = hearth::gguf::type_traits(t)->block_size == 256;
    std::vector<uint64_t> dims = k ? std::vector<uint64_t>{256} : std::vector<uint64_t>{32, 2};
    keep.emplace_back(GgufWriter::tensor_bytes("t", t, dims), static_cast<uint8_t>(keep.size()));
    w.add_tensor("blk.0." + std::string(hearth::gguf::type_name(t)), t, dims, keep.back());
  }
  return w.to_bytes();
}

void save(const std::filesystem::path& dir, const std::string& name,
          const std::vector<uint8_t>& bytes) {
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

template <typename T>
std::vector<uint8_t> patched(std::vector<uint8_t> b, size_t at, T v) {
  if (at + sizeof(T) <= b.size()) std::memcpy(b.data() + at, &v, sizeof(T));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::vector<uint8_t> meta = metadata_file();
  const std::vector<uint8_t> tensors = tensor_file(32);
  save(dir, "metadata.gguf", meta);
  save(dir, "tensors.gguf", tensors);
  save(dir, "tensors-align64.gguf", tensor_file(64));
  save(dir, "tensors-align1.gguf", tensor_file(1));
  save(dir, "v2.gguf", patched<uint32_t>(tensors, 4, 2));
  // Broken variants: the fuzzer starts next to each refusal.
  save(dir, "bad-magic.gguf", patched<uint32_t>(meta, 0, 0x4c4d4747));
  save(dir, "bad-version.gguf", patched<uint32_t>(meta, 4, 1));
  save(dir, "huge-tensor-count.gguf", patched<uint64_t>(tensors, 8, 1ull << 40));
  save(dir, "huge-kv-count.gguf", patched<uint64_t>(meta, 16, 1ull << 40));
  save(dir, "huge-key-length.gguf", patched<uint64_t>(meta, 24, 1ull << 62));
  for (size_t cut : {size_t{3}, size_t{20}, meta.size() / 2, meta.size() - 1})
    save(dir, "metadata-cut" + std::to_string(cut) + ".gguf",
         std::vector<uint8_t>(meta.begin(), meta.begin() + static_cast<ptrdiff_t>(cut)));
  for (size_t cut : {tensors.size() / 2, tensors.size() - 1})
    save(dir, "tensors-cut" + std::to_string(cut) + ".gguf",
         std::vector<uint8_t>(tensors.begin(), tensors.begin() + static_cast<ptrdiff_t>(cut)));
  std::printf("wrote the GGUF seed corpus to %s\n", dir.c_str());
  return 0;
}
