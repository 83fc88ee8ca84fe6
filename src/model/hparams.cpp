#include "model/hparams.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hearth::model {
namespace {

[[noreturn]] void fail(const gguf::GgufFile& f, const std::string& what) {
  throw gguf::GgufError("model file '" + f.path() + "': " + what);
}

// A fact read_arch_facts found, required to be stated by the file and positive.
int64_t require(const gguf::GgufFile& f, const std::string& key, int64_t value) {
  if (!f.has(key)) fail(f, "missing metadata key '" + key + "'");
  if (value <= 0)
    fail(f, "'" + key + "' is " + std::to_string(value) + ", expected a positive number");
  return value;
}

// 1 + the highest N of the tensor names blk.N.*; 0 without blocks.
int64_t count_blocks(const gguf::GgufFile& f) {
  int64_t n = 0;
  for (const auto& t : f.tensors()) {
    int layer = -1;
    if (std::sscanf(t.name.c_str(), "blk.%d.", &layer) == 1) n = std::max<int64_t>(n, layer + 1);
  }
  return n;
}

}  // namespace

ArchFacts read_arch_facts(const gguf::GgufFile& f) {
  ArchFacts a;
  a.arch = f.get_string("general.architecture");
  const std::string p = a.arch + ".";
  a.n_ctx_train = f.get_int(p + "context_length", 0);
  a.n_embd = f.get_int(p + "embedding_length", 0);
  a.n_layer = f.has(p + "block_count") ? f.get_int(p + "block_count", 0) : count_blocks(f);
  a.n_ff = f.get_int(p + "feed_forward_length", 0);
  a.n_head = f.get_int(p + "attention.head_count", 0);
  a.n_head_kv = f.get_int(p + "attention.head_count_kv", a.n_head);
  a.head_dim = f.get_int(p + "attention.key_length", a.n_head > 0 ? a.n_embd / a.n_head : 0);
  a.n_expert = f.get_int(p + "expert_count", 0);
  a.rope_freq_base = f.get_float(p + "rope.freq_base", 0.0);
  a.n_vocab = f.get_int(p + "vocab_size", 0);
  if (a.n_vocab <= 0) {
    if (const auto* t = f.find_tensor("token_embd.weight"); t && t->n_dims == 2)
      a.n_vocab = static_cast<int64_t>(t->dims[1]);
    else if (const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
             tokens && tokens->type() == gguf::ValueType::ARRAY)
      a.n_vocab = static_cast<int64_t>(tokens->array_size());
  }
  return a;
}

Hparams read_hparams(const gguf::GgufFile& f) {
  const ArchFacts facts = read_arch_facts(f);
  Hparams h;
  h.arch_name = facts.arch;
  if (h.arch_name == "llama") {
    h.arch = Arch::Llama;
  } else if (h.arch_name == "qwen2") {
    h.arch = Arch::Qwen2;
  } else if (h.arch_name == "falcon") {
    h.arch = Arch::Falcon;
  } else {
    fail(f, "architecture '" + h.arch_name + "' is not supported (llama, qwen2, falcon are)");
  }
  const std::string a = h.arch_name + ".";
  h.n_embd = require(f, a + "embedding_length", facts.n_embd);
  h.n_layer = require(f, a + "block_count", facts.n_layer);
  // Tables per layer are allocated from it before any tensor is looked up:
  // the largest real models have a few hundred layers.
  constexpr int64_t kMaxLayers = 4096;
  if (h.n_layer > kMaxLayers)
    fail(f, "'" + a + "block_count' is " + std::to_string(h.n_layer) + ", more than " +
                std::to_string(kMaxLayers) + " layers");
  h.n_head = require(f, a + "attention.head_count", facts.n_head);
  h.n_ff = require(f, a + "feed_forward_length", facts.n_ff);
  h.n_head_kv = f.has(a + "attention.head_count_kv")
                    ? require(f, a + "attention.head_count_kv", facts.n_head_kv)
                    : h.n_head;
  h.n_ctx_train = facts.n_ctx_train > 0 ? facts.n_ctx_train : 2048;
  const bool key_length = f.has(a + "attention.key_length");
  h.head_dim =
      key_length ? require(f, a + "attention.key_length", facts.head_dim) : h.n_embd / h.n_head;
  if (h.head_dim * h.n_head != h.n_embd && !key_length)
    fail(f, "embedding_length " + std::to_string(h.n_embd) + " is not a multiple of head_count " +
                std::to_string(h.n_head));
  if (h.n_head % h.n_head_kv != 0)
    fail(f, "attention.head_count " + std::to_string(h.n_head) +
                " is not a multiple of head_count_kv " + std::to_string(h.n_head_kv));

  const std::string eps_key = h.arch == Arch::Falcon ? a + "attention.layer_norm_epsilon"
                                                     : a + "attention.layer_norm_rms_epsilon";
  h.norm_eps = static_cast<float>(f.get_float(eps_key, 1e-5));
  if (!(h.norm_eps > 0 && h.norm_eps < 1))
    fail(f, "'" + eps_key + "' is " + std::to_string(h.norm_eps) +
                ", expected a small positive "
                "number (1e-5)");

  h.rope.mode = h.arch == Arch::Llama ? backend::RopeMode::Normal : backend::RopeMode::Neox;
  h.rope.n_rot =
      f.has(a + "rope.dimension_count")
          ? require(f, a + "rope.dimension_count", f.get_int(a + "rope.dimension_count", 0))
          : h.head_dim;
  if (h.rope.n_rot > h.head_dim || h.rope.n_rot % 2 != 0)
    fail(f, "rope.dimension_count " + std::to_string(h.rope.n_rot) +
                " must be even and at most the head dimension " + std::to_string(h.head_dim));
  h.rope.freq_base =
      static_cast<float>(f.has(a + "rope.freq_base") ? facts.rope_freq_base : 10000.0);
  if (!(h.rope.freq_base > 1 && std::isfinite(h.rope.freq_base)))
    fail(f, "'" + a + "rope.freq_base' is " + std::to_string(h.rope.freq_base) +
                ", expected a number above 1 (10000)");
  const std::string scaling = f.get_string(a + "rope.scaling.type", "none");
  double factor = f.get_float(a + "rope.scaling.factor", 0.0);
  if (scaling == "linear" || (scaling == "none" && f.has(a + "rope.scale_linear"))) {
    if (scaling != "linear") factor = f.get_float(a + "rope.scale_linear", 1.0);
    if (factor > 0) h.rope.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none") {
    fail(f, "rope.scaling.type '" + scaling + "' is not supported (none, linear are)");
  }

  h.n_vocab = facts.n_vocab;
  if (h.n_vocab <= 0) fail(f, "cannot tell the vocabulary size");
  return h;
}

quant::ModelShape mix_shape(const ArchFacts& facts) {
  quant::ModelShape m;
  m.arch = facts.arch;
  m.n_layer = static_cast<int>(facts.n_layer);
  m.n_expert = static_cast<int>(facts.n_expert);
  m.n_head = static_cast<int>(facts.n_head);
  m.n_head_kv = static_cast<int>(facts.n_head_kv);
  return m;
}

quant::ModelShape mix_shape(const gguf::GgufFile& file) { return mix_shape(read_arch_facts(file)); }

}  // namespace hearth::model
