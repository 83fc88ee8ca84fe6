// Crafted files: each refusal the reader promises, and the message it gives.
#include "gguf/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

// Builds a GGUF image field by field, so that any field can be made wrong.
class Craft {
 public:
  Craft& u32(uint32_t v) { return raw(&v, 4); }
  Craft& u64(uint64_t v) { return raw(&v, 8); }
  Craft& str(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  Craft& raw(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  Craft& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    raw("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Craft& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  Craft& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  // Pads to `align` and appends `n` bytes of tensor data.
  Craft& data(uint64_t n, uint64_t align = 32) {
    bytes.resize((bytes.size() + align - 1) / align * align + n, 0);
    return *this;
  }

  std::vector<uint8_t> bytes;
};

// The message of the GgufError that parsing `bytes` throws ("" when it does not throw).
std::string refusal(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse(bytes, "crafted.gguf");
  } catch (const GgufError& e) {
    std::string m = e.what();
    EXPECT_THAT(m, HasSubstr("crafted.gguf"));
    return m;
  }
  ADD_FAILURE() << "the crafted file was accepted";
  return "";
}

TEST(GgufReader, AcceptsAMinimalFileOfEachVersion) {
  for (uint32_t version : {2u, 3u}) {
    Craft c;
    c.header(1, 1, version).kv_u32("k", 5).tensor("t", {4}, 0, 0).data(16);
    auto f = GgufFile::parse(c.bytes, "ok.gguf");
    EXPECT_EQ(f->version(), version);
    EXPECT_EQ(f->tensors()[0].n_bytes, 16u);
  }
}

TEST(GgufReader, RefusesBadMagic) {
  Craft c;
  c.raw("GGML", 4).u32(3).u64(0).u64(0);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("bad magic"));
  EXPECT_THAT(refusal({'G', 'G'}), HasSubstr("magic"));
}

TEST(GgufReader, RefusesUnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u}) {
    Craft c;
    c.header(0, 0, v);
    EXPECT_THAT(refusal(c.bytes), HasSubstr("unsupported GGUF version " + std::to_string(v)));
  }
  Craft be;
  be.header(0, 0, 0x03000000u);
  EXPECT_THAT(refusal(be.bytes), HasSubstr("big-endian"));
}

TEST(GgufReader, RefusesEveryTruncation) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set("tokens", Value::of_strings({"a", "bc"}));
  w.set("scores", Value::of_array(ValueType::F32, {Value::of_float(ValueType::F32, 1)}));
  std::vector<uint8_t> data(64);
  w.add_tensor("t", TensorType::F16, {32}, data);
  const std::vector<uint8_t> full = w.to_bytes();
  ASSERT_NO_THROW(GgufFile::parse(full, "full"));
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    const std::string m = refusal(cut);
    const bool names_it = m.find("truncated") != std::string::npos ||
                          m.find("past end of file") != std::string::npos ||
                          m.find("cannot fit") != std::string::npos ||
                          m.find("exceeds") != std::string::npos;
    EXPECT_TRUE(names_it) << "at " << n << " bytes: " << m;
  }
  Craft c;
  c.header(0, 1).str("key").u32(4).raw("\1\2", 2);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("truncated: metadata 'key' needs 4 bytes at offset"));
}

TEST(GgufReader, RefusesCountsThatCannotFit) {
  Craft kv;
  kv.header(0, 1000000);
  EXPECT_THAT(refusal(kv.bytes), HasSubstr("metadata count 1000000 cannot fit in the 0 bytes"));
  Craft t;
  t.header(5000, 0).u64(0);
  EXPECT_THAT(refusal(t.bytes), HasSubstr("tensor count 5000 cannot fit in the 8 bytes"));
}

TEST(GgufReader, RefusesStringAndArrayLengthsThatCannotFit) {
  Craft s;
  s.header(0, 1).str("key").u32(8).u64(1ull << 62).raw("abcdefghijklmn", 14);
  EXPECT_THAT(refusal(s.bytes), HasSubstr("string length 4611686018427387904 exceeds the 14"));
  Craft k;
  k.header(0, 1).u64(100).raw("short", 5);
  EXPECT_THAT(refusal(k.bytes), HasSubstr("metadata key 0: string length 100 exceeds the 5"));
  Craft a;
  a.header(0, 1).str("arr").u32(9).u32(4).u64(1000).u32(1).u32(2);
  EXPECT_THAT(refusal(a.bytes), HasSubstr("metadata 'arr': array length 1000 of uint32 cannot fit "
                                          "in the 8 bytes left"));
  Craft as;
  as.header(0, 1).str("arr").u32(9).u32(8).u64(3).str("x");
  EXPECT_THAT(refusal(as.bytes), HasSubstr("array length 3 of string cannot fit in the 9 bytes"));
}

TEST(GgufReader, RefusesUnknownValueTypes) {
  Craft c;
  c.header(0, 1).str("weird").u32(13).u32(0);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("metadata 'weird' has unknown value type 13"));
  Craft a;
  a.header(0, 1).str("weird").u32(9).u32(77).u64(0);
  EXPECT_THAT(refusal(a.bytes), HasSubstr("metadata 'weird' has unknown array element type 77"));
  Craft n;
  n.header(0, 1).str("nest").u32(9).u32(9).u64(0);
  EXPECT_THAT(refusal(n.bytes), HasSubstr("nested arrays"));
  Craft b;
  b.header(0, 1).str("flag").u32(7).raw("\x02", 1);
  EXPECT_THAT(refusal(b.bytes), HasSubstr("metadata 'flag': bool value 2"));
}

TEST(GgufReader, RefusesUnknownTensorTypes) {
  Craft c;
  c.header(1, 0).tensor("w", {32}, 99, 0).data(64);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("tensor 'w' has unknown tensor type 99"));
  Craft q4_2;  // ids 4 and 5 were Q4_2/Q4_3, removed from ggml
  q4_2.header(1, 0).tensor("w", {32}, 4, 0).data(64);
  EXPECT_THAT(refusal(q4_2.bytes), HasSubstr("unknown tensor type 4"));
}

TEST(GgufReader, RefusesMoreThanFourDims) {
  Craft c;
  c.header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).data(4);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("tensor 'w' has 5 dimensions, at most 4"));
}

TEST(GgufReader, RefusesZeroNegativeAndOverflowingDims) {
  Craft z;
  z.header(1, 0).tensor("w", {4, 0}, 0, 0).data(16);
  EXPECT_THAT(refusal(z.bytes), HasSubstr("tensor 'w' dimension 1 is zero"));
  Craft n;
  n.header(1, 0).tensor("w", {4, static_cast<uint64_t>(-3)}, 0, 0).data(16);
  EXPECT_THAT(refusal(n.bytes), HasSubstr("tensor 'w' dimension 1 is negative (-3)"));
  Craft o;
  o.header(1, 0).tensor("w", {1ull << 32, 1ull << 32}, 0, 0).data(16);
  EXPECT_THAT(refusal(o.bytes), HasSubstr("tensor 'w' element count overflows"));
  Craft b;  // elements fit in int64, bytes (x4 for f32) do not
  b.header(1, 0).tensor("w", {1ull << 31, 1ull << 31}, 0, 0).data(16);
  EXPECT_THAT(refusal(b.bytes), HasSubstr("tensor 'w' byte size overflows"));
}

TEST(GgufReader, RefusesBadAlignment) {
  Craft c;
  c.header(0, 1).kv_u32("general.alignment", 33);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("general.alignment 33 is not a power of two"));
  Craft z;
  z.header(0, 1).kv_u32("general.alignment", 0);
  EXPECT_THAT(refusal(z.bytes), HasSubstr("general.alignment 0 is not a power of two"));
  Craft big;
  big.header(0, 1).kv_u32("general.alignment", 1u << 30);
  EXPECT_THAT(refusal(big.bytes), HasSubstr("general.alignment 1073741824 is absurd"));
  Craft ty;
  ty.header(0, 1).str("general.alignment").u32(8).str("32");
  EXPECT_THAT(refusal(ty.bytes), HasSubstr("general.alignment has type string, expected uint32"));
  Craft off;
  off.header(1, 0).tensor("w", {4}, 0, 16).data(64);
  EXPECT_THAT(refusal(off.bytes), HasSubstr("tensor 'w' offset 16 is not a multiple of the "
                                            "alignment 32"));
}

TEST(GgufReader, RefusesTensorDataOutsideTheFile) {
  Craft c;
  c.header(1, 0).tensor("w", {64}, 0, 0).data(128);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("tensor 'w' extends past end of file (offset 0, size "
                                          "256, data blob 128)"));
  Craft far;
  far.header(1, 0).tensor("w", {4}, 0, 1ull << 40).data(64);
  EXPECT_THAT(refusal(far.bytes), HasSubstr("offset 1099511627776"));
  Craft none;  // data would start past the end
  none.header(1, 0).tensor("w", {4}, 0, 0);
  EXPECT_THAT(refusal(none.bytes), HasSubstr("truncated: tensor data would start at 64"));
}

TEST(GgufReader, RefusesOverlappingTensors) {
  Craft c;
  c.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).data(128);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("tensor 'b' (offset 32) overlaps tensor 'a' (offset 0, "
                                          "size 64)"));
  Craft same;
  same.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 0).data(64);
  EXPECT_THAT(refusal(same.bytes), HasSubstr("overlaps"));
}

TEST(GgufReader, RefusesDuplicates) {
  Craft k;
  k.header(0, 2).kv_u32("dup", 1).kv_u32("dup", 2);
  EXPECT_THAT(refusal(k.bytes), HasSubstr("duplicate metadata key 'dup'"));
  Craft t;
  t.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).data(64);
  EXPECT_THAT(refusal(t.bytes), HasSubstr("duplicate tensor name 'w'"));
}

TEST(GgufReader, RefusesRowsThatAreNotWholeBlocks) {
  Craft c;
  c.header(1, 0).tensor("w", {33, 2}, 2, 0).data(256);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("tensor 'w' row length 33 is not a multiple of q4_0's "
                                          "block size 32"));
  Craft k;
  k.header(1, 0).tensor("w", {128}, 12, 0).data(256);
  EXPECT_THAT(refusal(k.bytes), HasSubstr("row length 128 is not a multiple of q4_k's block size "
                                          "256"));
}

TEST(GgufReader, RefusesOverlongTensorNames) {
  Craft c;
  c.header(1, 0).tensor(std::string(64, 'x'), {8}, 0, 0).data(32);
  EXPECT_THAT(refusal(c.bytes), HasSubstr("name is 64 bytes, the limit is 63"));
}

TEST(GgufReader, RefusesInvalidUtf8NamingTheKey) {
  const std::string bad_bytes[] = {"\xff",         "ab\xc3",           "\xc0\xaf",
                                   "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
  for (const std::string& bad : bad_bytes) {
    // A key.
    Craft k;
    k.header(0, 1).str("general." + bad).u32(4).u32(1);
    EXPECT_THAT(refusal(k.bytes), HasSubstr("metadata key 0: string is not valid UTF-8"));
    // A string value: the key is named.
    Craft v;
    v.header(0, 2).kv_u32("a", 1).str("general.name").u32(8).str("model " + bad);
    const std::string m = refusal(v.bytes);
    EXPECT_THAT(m, HasSubstr("metadata 'general.name': string is not valid UTF-8"));
    EXPECT_THAT(m, HasSubstr(bad.starts_with("ab") ? "at offset 8" : "at offset 6"));
    // An element of a string array: the key and the index.
    Craft a;
    a.header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(3).str("a").str("b").str(bad);
    EXPECT_THAT(refusal(a.bytes),
                HasSubstr("metadata 'tokenizer.ggml.tokens'[2]: string is not valid UTF-8"));
  }
  // A tensor name.
  Craft t;
  t.header(1, 0).tensor("blk.\x80", {4}, 0, 0).data(16);
  EXPECT_THAT(refusal(t.bytes), HasSubstr("tensor 0 name: string is not valid UTF-8"));
}

TEST(GgufReader, AcceptsValidUtf8AndControlCharacters) {
  // Valid UTF-8 of every length, and an ESC (valid UTF-8; show escapes it).
  Craft c;
  c.header(0, 1)
      .str("general.name")
      .u32(8)
      .str("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x1b[31m\xef\xbf\xbf");
  auto f = GgufFile::parse(c.bytes, "ok.gguf");
  EXPECT_EQ(f->get_string("general.name"),
            "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x1b[31m\xef\xbf\xbf");
}

TEST(GgufReader, LoadsAVocabOnlyFile) {
  // A vocabulary-only file (as llama.cpp's ggml-vocab-*.gguf): metadata, no tensors,
  // ending right after the header.
  Craft c;
  c.header(0, 3).str("general.architecture").u32(8).str("llama");
  c.str("tokenizer.ggml.model").u32(8).str("llama");
  c.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(3).str("<unk>").str("<s>").str("</s>");
  auto f = GgufFile::parse(c.bytes, "vocab.gguf");
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<unk>", "<s>", "</s>"}));
}

// Real vocabulary-only files (llama.cpp's models/ggml-vocab-*.gguf).
TEST(GgufReader, LoadsRealVocabOnlyFiles) {
  const std::string dir = std::string(HEARTH_SOURCE_DIR) + "/tests/data/vocab/";
  auto spm = GgufFile::open(dir + "ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(spm->tensors().empty());
  EXPECT_EQ(spm->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(spm->get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_EQ(spm->get_float_array("tokenizer.ggml.scores").size(), 32000u);
  EXPECT_EQ(spm->get_int_array("tokenizer.ggml.token_type").size(), 32000u);
  auto gpt2 = GgufFile::open(dir + "ggml-vocab-gpt-2.gguf");
  EXPECT_TRUE(gpt2->tensors().empty());
  EXPECT_EQ(gpt2->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(gpt2->get_string_array("tokenizer.ggml.tokens").size(), 50257u);
  EXPECT_EQ(gpt2->get_string_array("tokenizer.ggml.merges").size(), 50000u);  // GPT-2's merges.txt
}

TEST(GgufReader, OpenNamesTheFileItCannotRead) {
  try {
    GgufFile::open("/nonexistent/dir/model.gguf");
    FAIL() << "opened a missing file";
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/model.gguf"));
    EXPECT_THAT(e.what(), HasSubstr("cannot open"));
  }
  const auto empty = std::filesystem::temp_directory_path() / "hearth-empty.gguf";
  std::ofstream(empty).close();
  EXPECT_THROW(GgufFile::open(empty.string()), GgufError);
  std::filesystem::remove(empty);
  EXPECT_THROW(GgufFile::open(std::filesystem::temp_directory_path().string()), GgufError);
}

// This process's resident pages of mapped files, in bytes (RssFile, plus
// RssShmem where the temporary directory is a tmpfs).
uint64_t resident_file_bytes() {
  std::ifstream in("/proc/self/status");
  uint64_t kib = 0;
  for (std::string line; std::getline(in, line);)
    for (const char* key : {"RssFile:", "RssShmem:"})
      if (line.rfind(key, 0) == 0) kib += std::stoull(line.substr(std::strlen(key)));
  return kib * 1024;
}

// A released tensor leaves resident memory and reads the same bytes after.
TEST(GgufReader, ReleasedTensorPagesLeaveMemoryAndReadTheSame) {
  constexpr uint64_t kCols = 4096, kRows = 1024;  // 8 MiB of f16
  std::vector<uint8_t> bytes(kCols * kRows * 2);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + i / 4096);
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("big", TensorType::F16, {kCols, kRows}, bytes);
  const auto path = std::filesystem::temp_directory_path() /
                    ("hearth-release-" + std::to_string(::getpid()) + ".gguf");
  w.write(path.string());
  {
    auto f = GgufFile::open(path.string());
    const TensorInfo* t = f->find_tensor("big");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(std::memcmp(t->data, bytes.data(), bytes.size()), 0);  // every page touched
    const uint64_t before = resident_file_bytes();
    f->release_pages(*t);
    const uint64_t after = resident_file_bytes();
    EXPECT_GE(before, after + 7 * (uint64_t{1} << 20)) << before << " -> " << after;
    EXPECT_EQ(std::memcmp(t->data, bytes.data(), bytes.size()), 0);
  }
  std::filesystem::remove(path);
}

// The bundled model: 6 layers x 9 tensors + token_embd, output_norm, output = 57.
TEST(GgufReader, LoadsTheBundledModel) {
  auto f = GgufFile::open(std::string(HEARTH_TINY_KJV));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->tensors().size(), 57u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.block_count", 0), 6u);
  EXPECT_EQ(f->get_uint("llama.context_length", 0), 256u);
  EXPECT_EQ(f->get_uint("llama.embedding_length", 0), 192u);
  EXPECT_EQ(f->get_uint("llama.feed_forward_length", 0), 512u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count", 0), 6u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count_kv", 0), 2u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores").size(), 32000u);
  EXPECT_TRUE(f->has("tokenizer.chat_template"));
  const TensorInfo* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->n_dims, 2u);
  EXPECT_EQ(embd->dims[0], 192u);
  EXPECT_EQ(embd->dims[1], 32000u);
  EXPECT_EQ(embd->type, TensorType::F16);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, TensorType::F32);
  EXPECT_EQ(f->find_tensor("blk.5.attn_k.weight")->dims[1], 64u);  // 2 KV heads x 32
  uint64_t params = 0;
  for (const TensorInfo& t : f->tensors()) params += t.n_elements();
  EXPECT_EQ(params, 14649792u);  // the model card's 14.6 M
}

}  // namespace
}  // namespace hearth::gguf
