// `hearth synth`: a random-weight model of a real architecture's shape, for
// measuring speed and memory at sizes hearth does not bundle. The tokenizer and
// chat template are the bundled model's (every shape here has Llama-2's 32,000
// token vocabulary); weights are N(0, 0.02) from a seeded generator, norms 1.0.
//
// Like the peer benchmark's files, the model is written in f16 (norms f32) and
// then requantized with the same code as `hearth quantize` for any other type.
// Tensors are generated one at a time, on every core, straight into the file.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "fs/atomic_file.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "model/hparams.h"
#include "quant/fp16.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"
#include "store/resolve.h"
#include "threads/thread_pool.h"

namespace hearth::cli {

namespace {

using gguf::TensorType;

struct Shape {
  const char* name;
  uint32_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
  float rope_base;
};

// Published hyperparameters of each architecture (their config.json files).
constexpr Shape kShapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f},
    {"llama-2-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f},
    {"mistral-7b", 4096, 32, 32, 8, 14336, 32000, 32768, 1000000.0f},
    {"small", 256, 4, 8, 4, 768, 32000, 1024, 10000.0f},
};

constexpr float kStddev = 0.02f;
constexpr uint64_t kChunk = 1 << 16;  // weights per generator stream (and unit of work)

struct SynthOptions {
  std::string shape;
  std::string type = "f16";
  uint64_t seed = 0;
  std::optional<int> threads;  // nullopt: one per physical core
  bool force = false;
  std::string out;
};

// splitmix64: a fast generator whose every state is a good seed; one stream per
// (seed, tensor, chunk), so the bytes do not depend on how threads share the work.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  float uniform() { return static_cast<float>((next() >> 40) + 1) * (1.0f / 16777216.0f); }
};

// Fills `out` with N(0, kStddev) weights of `type` (f32 or f16), chunk by chunk on `pool`.
void fill_normal(std::span<uint8_t> out, TensorType type, uint64_t seed, uint64_t tensor_index,
                 threads::ThreadPool& pool) {
  const uint64_t n = out.size() / (type == TensorType::F32 ? 4 : 2);
  const uint64_t n_chunks = (n + kChunk - 1) / kChunk;
  std::atomic<uint64_t> next{0};
  pool.run([&](int, int) {
    for (uint64_t c; (c = next.fetch_add(1)) < n_chunks;) {
      SplitMix64 base{seed ^ (tensor_index * 0xd1b54a32d192ed03ull)};
      SplitMix64 rng{base.next() + c * 0x9e3779b97f4a7c15ull};
      rng.next();
      const uint64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
      for (uint64_t i = begin; i < end; i += 2) {
        // Box-Muller: two uniforms -> two independent normals.
        const float r = kStddev * std::sqrt(-2.0f * std::log(rng.uniform()));
        const float theta = 6.28318530718f * rng.uniform();
        const float v[2] = {r * std::cos(theta), r * std::sin(theta)};
        for (uint64_t k = 0; k < 2 && i + k < end; ++k) {
          if (type == TensorType::F32) {
            std::memcpy(out.data() + (i + k) * 4, &v[k], 4);
          } else {
            const uint16_t h = quant::fp32_to_fp16(v[k]);
            std::memcpy(out.data() + (i + k) * 2, &h, 2);
          }
        }
      }
    }
  });
}

void fill_ones_f32(std::span<uint8_t> out) {
  const float one = 1.0f;
  for (size_t i = 0; i + 4 <= out.size(); i += 4) std::memcpy(out.data() + i, &one, 4);
}

const Shape& find_shape(const std::string& name) {
  for (const Shape& s : kShapes)
    if (name == s.name) return s;
  std::string known;
  for (const Shape& s : kShapes) known += std::string(known.empty() ? "" : ", ") + s.name;
  throw std::runtime_error("unknown shape '" + name + "' (known: " + known + ")");
}

// Writes the model with weights in `weight_type` (f32 or f16) into `out`.
void write_model(const Shape& s, TensorType weight_type, uint64_t seed, threads::ThreadPool& pool,
                 fs::AtomicFile& out) {
  const auto vocab = gguf::GgufFile::open(store::resolve_model("tiny-kjv"));
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", std::string("synth-") + s.name);
  w.set_u32("llama.context_length", s.ctx);
  w.set_u32("llama.embedding_length", s.dim);
  w.set_u32("llama.block_count", s.layers);
  w.set_u32("llama.feed_forward_length", s.ffn);
  w.set_u32("llama.attention.head_count", s.heads);
  w.set_u32("llama.attention.head_count_kv", s.kv_heads);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32("llama.rope.freq_base", s.rope_base);
  w.set_u32("llama.rope.dimension_count", s.dim / s.heads);
  w.set_u32("llama.vocab_size", s.vocab);
  for (const auto& [key, value] : vocab->metadata())
    if (key.starts_with("tokenizer.")) w.set(key, value);
  w.set_u32("general.file_type", weight_type == TensorType::F32 ? 0 : 1);  // llama_ftype

  const uint64_t kv_dim = uint64_t{s.dim} / s.heads * s.kv_heads;
  uint64_t index = 0;
  auto weight = [&](const std::string& name, uint64_t cols, uint64_t rows) {
    const uint64_t i = index++;
    w.add_tensor(name, weight_type, {cols, rows}, [=, &pool](std::span<uint8_t> out) {
      fill_normal(out, weight_type, seed, i, pool);
    });
  };
  auto norm = [&](const std::string& name) {
    ++index;
    w.add_tensor(name, TensorType::F32, {s.dim}, fill_ones_f32);
  };
  weight("token_embd.weight", s.dim, s.vocab);
  for (uint32_t l = 0; l < s.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm.weight");
    weight(b + "attn_q.weight", s.dim, s.dim);
    weight(b + "attn_k.weight", s.dim, kv_dim);
    weight(b + "attn_v.weight", s.dim, kv_dim);
    weight(b + "attn_output.weight", s.dim, s.dim);
    norm(b + "ffn_norm.weight");
    weight(b + "ffn_gate.weight", s.dim, s.ffn);
    weight(b + "ffn_up.weight", s.dim, s.ffn);
    weight(b + "ffn_down.weight", s.ffn, s.dim);
  }
  norm("output_norm.weight");
  weight("output.weight", s.dim, s.vocab);
  w.write(out);
}

void run_synth(const SynthOptions& o) {
  const Shape& shape = find_shape(o.shape);
  threads::ThreadPool pool(o.threads);
  fs::AtomicFileOptions output;
  output.force = o.force;
  fs::check_destination(o.out, output);  // before the long work
  std::string type = o.type;
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "f32" || type == "f16") {
    fs::AtomicFile out(o.out, output);
    write_model(shape, type == "f32" ? TensorType::F32 : TensorType::F16, o.seed, pool, out);
    out.commit();
  } else {
    if (!quant::find_file_type(type)) {
      std::string known;
      for (const quant::FileType& f : quant::file_types())
        known += std::string(known.empty() ? "" : ", ") + std::string(f.name);
      throw std::runtime_error("unknown --type '" + type + "' (known: " + known + ")");
    }
    // f16 first, then requantized: the path llama.cpp's files take (convert,
    // then quantize). The f16 file is a temporary beside the output that is
    // never committed: removed when done, on errors and on SIGINT/SIGTERM.
    fs::AtomicFile f16(o.out, output);
    write_model(shape, TensorType::F16, o.seed, pool, f16);
    quant::QuantizeOptions q;
    q.type = type;
    q.force = o.force;
    quant::quantize_model(f16.temp_path(), model::mix_shape(*gguf::GgufFile::open(f16.temp_path())),
                          o.out, q, pool);
  }
  const auto file = gguf::GgufFile::open(o.out);
  uint64_t params = 0;
  for (const gguf::TensorInfo& t : file->tensors()) params += t.n_elements();
  std::printf("wrote %s: %s shape, %s, %llu parameters, %llu bytes\n", o.out.c_str(), shape.name,
              type.c_str(), static_cast<unsigned long long>(params),
              static_cast<unsigned long long>(file->file_size()));
}

}  // namespace

void add_synth(CLI::App& app) {
  auto opts = std::make_shared<SynthOptions>();
  auto* cmd = app.add_subcommand(
      "synth", "Write a random-weight model of a real architecture's shape (for benchmarks)");
  cmd->add_option("--shape", opts->shape, "tinyllama-1.1b, llama-2-7b, mistral-7b or small")
      ->required();
  cmd->add_option("--type", opts->type, "f16 (default), f32, or any `hearth quantize` type");
  cmd->add_option("--seed", opts->seed, "random seed (default 0): same seed, same bytes");
  cmd->add_option("-t,--threads", opts->threads, "threads (default: one per physical core)");
  cmd->add_flag("-f,--force", opts->force, "replace OUT if it exists");
  cmd->add_option("OUT", opts->out, "output GGUF file")->required();
  cmd->callback([opts] { run_synth(*opts); });
}

}  // namespace hearth::cli
