// A tiny random model of each architecture, written to a GGUF file (f32
// weights), for the model tests: Tiny::w holds the values the file holds.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace hearth::model::test_models {

// The bundled model (f16), for the tests that run a real vocabulary and weights.
inline const std::string kTinyKjvPath = std::string(HEARTH_TINY_KJV);

struct Tiny {
  std::string arch;
  int64_t E = 64, H = 4, KV = 2, D = 16, F = 96, V = 50, L = 2;
  bool tied = false;
  std::map<std::string, std::vector<float>> w;  // name -> values, GGUF order
  std::map<std::string, std::vector<uint64_t>> dims;

  void add(const std::string& name, std::vector<uint64_t> d, std::mt19937& rng, float sd,
           float mean = 0) {
    size_t n = 1;
    for (auto x : d) n *= x;
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    w[name] = v;
    dims[name] = d;
  }

  std::string write(const std::set<std::string>& skip = {},
                    const std::map<std::string, std::vector<uint64_t>>& reshape = {}) const {
    gguf::GgufWriter g;
    g.set_string("general.architecture", arch);
    const std::string a = arch + ".";
    g.set_u32(a + "embedding_length", E);
    g.set_u32(a + "block_count", L);
    g.set_u32(a + "attention.head_count", H);
    g.set_u32(a + "attention.head_count_kv", KV);
    g.set_u32(a + "feed_forward_length", F);
    g.set_u32(a + "context_length", 64);
    g.set_f32(a + (arch == "falcon" ? "attention.layer_norm_epsilon"
                                    : "attention.layer_norm_rms_epsilon"),
              1e-5f);
    g.set_f32(a + "rope.freq_base", 10000);
    for (const auto& [name, v] : w) {
      if (skip.count(name)) continue;
      auto d = reshape.count(name) ? reshape.at(name) : dims.at(name);
      const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
      size_t n = 1;
      for (auto x : d) n *= x;
      g.add_tensor(name, gguf::TensorType::F32, d, std::span(bytes, std::min(n, v.size()) * 4));
    }
    const std::string path = "/tmp/hearth_model_test_" + std::to_string(getpid()) + "_" + arch +
                             std::to_string(skip.size() + reshape.size()) + ".gguf";
    g.write(path);
    return path;
  }

  const std::vector<float>& t(const std::string& n) const { return w.at(n); }
  bool has(const std::string& n) const { return w.count(n) > 0; }
};

// `shape`: the sizes (E, H, KV, D, F, V, L) to use; the defaults are tiny.
inline Tiny make_tiny(const std::string& arch, bool tied = false, const Tiny& shape = {}) {
  Tiny m = shape;
  m.arch = arch;
  m.tied = tied;
  if (arch == "falcon") m.KV = 1;
  std::mt19937 rng(7);
  const uint64_t E = m.E, V = m.V, F = m.F, Q = m.H * m.D, K = m.KV * m.D;
  m.add("token_embd.weight", {E, V}, rng, 1.0f);
  m.add("output_norm.weight", {E}, rng, 0.1f, 1.0f);
  if (arch == "falcon") m.add("output_norm.bias", {E}, rng, 0.1f);
  if (!tied) m.add("output.weight", {E, V}, rng, 0.1f);
  for (int l = 0; l < m.L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    m.add(p + "attn_norm.weight", {E}, rng, 0.1f, 1.0f);
    m.add(p + "attn_output.weight", {Q, E}, rng, 0.1f);
    m.add(p + "ffn_up.weight", {E, F}, rng, 0.1f);
    m.add(p + "ffn_down.weight", {F, E}, rng, 0.1f);
    if (arch == "falcon") {
      m.add(p + "attn_norm.bias", {E}, rng, 0.1f);
      m.add(p + "attn_qkv.weight", {E, Q + 2 * K}, rng, 0.1f);
      continue;
    }
    m.add(p + "attn_q.weight", {E, Q}, rng, 0.1f);
    m.add(p + "attn_k.weight", {E, K}, rng, 0.1f);
    m.add(p + "attn_v.weight", {E, K}, rng, 0.1f);
    m.add(p + "ffn_norm.weight", {E}, rng, 0.1f, 1.0f);
    m.add(p + "ffn_gate.weight", {E, F}, rng, 0.1f);
    if (arch == "qwen2") {
      m.add(p + "attn_q.bias", {Q}, rng, 0.1f);
      m.add(p + "attn_k.bias", {K}, rng, 0.1f);
      m.add(p + "attn_v.bias", {K}, rng, 0.1f);
    }
  }
  return m;
}

}  // namespace hearth::model::test_models
