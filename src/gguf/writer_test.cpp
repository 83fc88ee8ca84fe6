// Round trips: what GgufWriter writes, GgufFile reads back unchanged.
#include "gguf/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "gguf/reader.h"

namespace hearth::gguf {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

std::string temp_path(const std::string& stem) {
  return (std::filesystem::temp_directory_path() /
          (stem + "-" + std::to_string(::getpid()) + ".gguf"))
      .string();
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GgufWriter, RoundTripsEveryScalarValueType) {
  GgufWriter w;
  w.set("u8", Value::of_uint(ValueType::U8, 250));
  w.set("i8", Value::of_int(ValueType::I8, -120));
  w.set("u16", Value::of_uint(ValueType::U16, 65000));
  w.set("i16", Value::of_int(ValueType::I16, -32000));
  w.set("u32", Value::of_uint(ValueType::U32, 4000000000u));
  w.set("i32", Value::of_int(ValueType::I32, -2000000000));
  w.set("f32", Value::of_float(ValueType::F32, 1.5));
  w.set("bool", Value::of_bool(true));
  w.set("string", Value::of_string("héllo\n"));
  w.set("u64", Value::of_uint(ValueType::U64, 18000000000000000000ull));
  w.set("i64", Value::of_int(ValueType::I64, -9000000000000000000ll));
  w.set("f64", Value::of_float(ValueType::F64, 3.141592653589793));
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "scalars");
  EXPECT_EQ(f->version(), 3u);
  ASSERT_EQ(f->metadata().size(), 12u);
  EXPECT_EQ(f->metadata()[0].first, "u8");  // file order kept
  EXPECT_EQ(f->metadata()[11].first, "f64");
  EXPECT_EQ(f->find("u8")->type(), ValueType::U8);
  EXPECT_EQ(f->get_uint("u8", 0), 250u);
  EXPECT_EQ(f->get_int("i8", 0), -120);
  EXPECT_EQ(f->get_uint("u16", 0), 65000u);
  EXPECT_EQ(f->get_int("i16", 0), -32000);
  EXPECT_EQ(f->get_uint("u32", 0), 4000000000u);
  EXPECT_EQ(f->get_int("i32", 0), -2000000000);
  EXPECT_EQ(f->find("f32")->type(), ValueType::F32);
  EXPECT_EQ(f->get_float("f32", 0), 1.5);
  EXPECT_TRUE(f->get_bool("bool", false));
  EXPECT_EQ(f->get_string("string"), "héllo\n");
  EXPECT_EQ(f->get_uint("u64", 0), 18000000000000000000ull);
  EXPECT_EQ(f->get_int("i64", 0), -9000000000000000000ll);
  EXPECT_EQ(f->get_float("f64", 0), 3.141592653589793);
  EXPECT_EQ(f->get_uint("absent", 7), 7u);
  EXPECT_THROW(f->get_string("u8"), GgufError);
  EXPECT_THROW(f->get_uint("i8", 0), GgufError);  // negative
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufWriter, RoundTripsArraysOfEveryType) {
  GgufWriter w;
  w.set("a.uint8", Value::of_array(ValueType::U8, {Value::of_uint(ValueType::U8, 1),
                                                   Value::of_uint(ValueType::U8, 255)}));
  w.set("a.int8", Value::of_array(ValueType::I8, {Value::of_int(ValueType::I8, -1)}));
  w.set("a.uint16", Value::of_array(ValueType::U16, {Value::of_uint(ValueType::U16, 65535)}));
  w.set("a.int16", Value::of_array(ValueType::I16, {Value::of_int(ValueType::I16, -300)}));
  w.set("a.uint32", Value::of_array(ValueType::U32, {Value::of_uint(ValueType::U32, 7),
                                                     Value::of_uint(ValueType::U32, 8)}));
  w.set("a.int32", Value::of_array(ValueType::I32, {Value::of_int(ValueType::I32, -70000)}));
  w.set("a.float32", Value::of_array(ValueType::F32, {Value::of_float(ValueType::F32, -0.25),
                                                      Value::of_float(ValueType::F32, 2)}));
  w.set("a.bool", Value::of_array(ValueType::BOOL, {Value::of_bool(false), Value::of_bool(true)}));
  w.set("a.string", Value::of_strings({"a", "", "▁the"}));
  w.set("a.uint64", Value::of_array(ValueType::U64, {Value::of_uint(ValueType::U64, 1ull << 40)}));
  w.set("a.int64", Value::of_array(ValueType::I64, {Value::of_int(ValueType::I64, -(1ll << 40))}));
  w.set("a.float64", Value::of_array(ValueType::F64, {Value::of_float(ValueType::F64, 1e300)}));
  w.set("a.empty", Value::of_array(ValueType::I32, {}));
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "arrays");
  ASSERT_EQ(f->metadata().size(), 13u);
  for (const auto& [key, v] : f->metadata()) {
    EXPECT_EQ(v.type(), ValueType::ARRAY) << key;
    EXPECT_EQ("a." + std::string(value_type_name(v.elem_type())),
              key == "a.empty" ? "a.int32" : key)
        << key;
  }
  EXPECT_EQ(f->get_int_array("a.uint8"), (std::vector<int64_t>{1, 255}));
  EXPECT_EQ(f->get_int_array("a.int8"), (std::vector<int64_t>{-1}));
  EXPECT_EQ(f->get_int_array("a.uint16"), (std::vector<int64_t>{65535}));
  EXPECT_EQ(f->get_int_array("a.int16"), (std::vector<int64_t>{-300}));
  EXPECT_EQ(f->get_int_array("a.uint32"), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(f->get_int_array("a.int32"), (std::vector<int64_t>{-70000}));
  EXPECT_EQ(f->get_float_array("a.float32"), (std::vector<float>{-0.25f, 2.0f}));
  EXPECT_EQ(f->get_int_array("a.bool"), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(f->get_string_array("a.string"), (std::vector<std::string>{"a", "", "▁the"}));
  EXPECT_EQ(f->get_int_array("a.uint64"), (std::vector<int64_t>{1ll << 40}));
  EXPECT_EQ(f->get_int_array("a.int64"), (std::vector<int64_t>{-(1ll << 40)}));
  EXPECT_EQ(f->find("a.float64")->at(0).as_float(), 1e300);
  EXPECT_EQ(f->find("a.empty")->array_size(), 0u);
  EXPECT_TRUE(f->find("a.bool")->at(1).as_bool());
  auto elems = f->find("a.string")->as_array();
  ASSERT_EQ(elems.size(), 3u);
  EXPECT_EQ(elems[2].as_string(), "▁the");
  EXPECT_THROW(f->get_string_array("a.uint8"), GgufError);
  EXPECT_THROW(f->find("a.uint8")->at(2), std::out_of_range);
}

TEST(GgufWriter, RoundTripsEveryTensorTypeWithAlignment) {
  const TensorType types[] = {
      TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
      TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
      TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  for (uint32_t align : {32u, 64u, 1u, 4096u}) {
    GgufWriter w;
    if (align != 32) w.set_u32("general.alignment", align);
    std::vector<std::vector<uint8_t>> data;
    std::vector<std::vector<uint64_t>> dims;
    std::vector<std::string> names;
    for (size_t i = 0; i < std::size(types); ++i) {
      dims.push_back(i % 2 ? std::vector<uint64_t>{256, 3} : std::vector<uint64_t>{512, 1, 2, 1});
      data.push_back(random_bytes(GgufWriter::tensor_bytes("t", types[i], dims.back()),
                                  static_cast<uint32_t>(i)));
      names.push_back(std::string(type_name(types[i])) + "_t");
      w.add_tensor(names.back(), types[i], dims.back(), data.back());
    }
    auto bytes = w.to_bytes();
    auto f = GgufFile::parse(bytes, "tensors");
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset() % align, 0u);
    ASSERT_EQ(f->tensors().size(), std::size(types));
    for (size_t i = 0; i < std::size(types); ++i) {
      const TensorInfo& t = f->tensors()[i];
      SCOPED_TRACE(testing::Message() << type_name(types[i]) << " align " << align);
      EXPECT_EQ(t.name, names[i]);
      EXPECT_EQ(t.type, types[i]);
      EXPECT_EQ(t.n_dims, dims[i].size());
      for (size_t d = 0; d < dims[i].size(); ++d) EXPECT_EQ(t.dims[d], dims[i][d]);
      EXPECT_EQ(t.offset % align, 0u);
      EXPECT_EQ(t.n_bytes, data[i].size());
      EXPECT_EQ(t.data, bytes.data() + f->data_offset() + t.offset);
      EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), t.data));
      EXPECT_EQ(f->find_tensor(t.name), &t);
    }
  }
}

// A file's metadata and tensors copied into a writer give back the file,
// byte for byte (the bundled model, written by llama.cpp's converter).
TEST(GgufWriter, CopyingAFileWritesTheSameBytes) {
  const auto in = GgufFile::open(HEARTH_TINY_KJV);
  GgufWriter w;
  w.copy_metadata(*in);
  w.copy_tensors(*in);
  EXPECT_EQ(w.to_bytes(), read_all(HEARTH_TINY_KJV));
}

TEST(GgufWriter, RowBytesMatchBlockLayouts) {
  // Bytes per 256 weights, from the block tables in FACTS.md / ggml-common.h.
  EXPECT_EQ(row_bytes(TensorType::F32, 256), 1024u);
  EXPECT_EQ(row_bytes(TensorType::F16, 256), 512u);
  EXPECT_EQ(row_bytes(TensorType::BF16, 256), 512u);
  EXPECT_EQ(row_bytes(TensorType::Q4_0, 256), 8u * 18);
  EXPECT_EQ(row_bytes(TensorType::Q4_1, 256), 8u * 20);
  EXPECT_EQ(row_bytes(TensorType::Q5_0, 256), 8u * 22);
  EXPECT_EQ(row_bytes(TensorType::Q5_1, 256), 8u * 24);
  EXPECT_EQ(row_bytes(TensorType::Q8_0, 256), 8u * 34);
  EXPECT_EQ(row_bytes(TensorType::Q2_K, 256), 84u);
  EXPECT_EQ(row_bytes(TensorType::Q3_K, 256), 110u);
  EXPECT_EQ(row_bytes(TensorType::Q4_K, 256), 144u);
  EXPECT_EQ(row_bytes(TensorType::Q5_K, 256), 176u);
  EXPECT_EQ(row_bytes(TensorType::Q6_K, 256), 210u);
  EXPECT_EQ(type_from_name("Q4_K"), TensorType::Q4_K);
  EXPECT_FALSE(type_from_name("q4_k_m").has_value());
}

TEST(GgufWriter, StreamsFillCallbacksToAFile) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  std::vector<uint8_t> a = random_bytes(64 * 4, 1);
  w.add_tensor("a", TensorType::F32, {64}, a);
  int calls = 0;
  w.add_tensor("b", TensorType::Q8_0, {64, 2}, [&](std::span<uint8_t> out) {
    ++calls;
    EXPECT_EQ(out.size(), 4u * 34);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 7);
  });
  const std::string path = temp_path("hearth-writer-stream");
  w.write(path);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::vector<uint8_t> on_disk = read_all(path);
  EXPECT_EQ(on_disk, w.to_bytes());
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->file_size(), on_disk.size());
  const TensorInfo* b = f->find_tensor("b");
  ASSERT_NE(b, nullptr);
  for (uint64_t i = 0; i < b->n_bytes; ++i) ASSERT_EQ(b->data[i], static_cast<uint8_t>(i * 7));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), f->find_tensor("a")->data));
  std::filesystem::remove(path);
}

TEST(GgufWriter, AFailingFillLeavesNoFile) {
  GgufWriter w;
  w.add_tensor("x", TensorType::F32, {8},
               [](std::span<uint8_t>) { throw std::runtime_error("generator failed"); });
  const std::string path = temp_path("hearth-writer-fail");
  EXPECT_THROW(w.write(path), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

// Output goes through fs::AtomicFile: nothing left behind on failure, a link
// planted at the old fixed temporary name is never followed, and only a
// regular file is replaced.
TEST(GgufWriter, WritesSafely) {
  const std::filesystem::path dir = temp_path("hearth-writer-safe");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.gguf").string();
  GgufWriter bad;
  bad.add_tensor("x", TensorType::F32, {8},
                 [](std::span<uint8_t>) { throw std::runtime_error("generator failed"); });
  EXPECT_THROW(bad.write(path), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_empty(dir));

  const std::string victim = (dir / "victim").string();
  std::ofstream(victim) << "precious";
  std::filesystem::create_symlink(victim, path + ".tmp");
  GgufWriter w;
  w.set_string("general.name", "ok");
  w.write(path);
  EXPECT_EQ(read_all(victim), std::vector<uint8_t>({'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'}));
  EXPECT_EQ(read_all(path), w.to_bytes());

  std::filesystem::create_directory(dir / "sub.gguf");
  EXPECT_THROW(w.write((dir / "sub.gguf").string()), fs::FileError);
  EXPECT_THROW(w.write(path, fs::AtomicFileOptions()), fs::FileError);  // exists, no force
  std::filesystem::remove_all(dir);
}

TEST(GgufWriter, RefusesBadTensors) {
  GgufWriter w;
  std::vector<uint8_t> d(18);
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, {33}, d), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, {64}, d), std::invalid_argument);  // size
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, {32, 0}, d), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, {32, 1, 1, 1, 1}, d), std::invalid_argument);
  w.add_tensor("q", TensorType::Q4_0, {32}, d);
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, {32}, d), std::invalid_argument);
  w.set_u32("general.alignment", 48);
  EXPECT_THROW(w.to_bytes(), std::invalid_argument);
}

TEST(GgufWriter, SetReplacesAndRemoveDeletes) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_u32("b", 2);
  w.set_u32("a", 3);
  w.remove("b");
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "set");
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->get_uint("a", 0), 3u);
}

}  // namespace
}  // namespace hearth::gguf
