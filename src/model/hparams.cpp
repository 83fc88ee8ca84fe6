#include "model/hparams.h"

#include <cmath>

namespace hearth::model {
namespace {

[[noreturn]] void fail(const gguf::GgufFile& f, const std::string& what) {
  throw gguf::GgufError("model file '" + f.path() + "': " + what);
}

int64_t require_int(const gguf::GgufFile& f, const std::string& key) {
  if (!f.has(key)) fail(f, "missing metadata key '" + key + "'");
  const int64_t v = f.get_int(key, 0);
  if (v <= 0) fail(f, "'" + key + "' is " + std::to_string(v) + ", expected a positive number");
  return v;
}

}  // namespace

Hparams read_hparams(const gguf::GgufFile& f) {
  Hparams h;
  h.arch_name = f.get_string("general.architecture");
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
  h.n_embd = require_int(f, a + "embedding_length");
  h.n_layer = require_int(f, a + "block_count");
  h.n_head = require_int(f, a + "attention.head_count");
  h.n_ff = require_int(f, a + "feed_forward_length");
  h.n_head_kv = f.has(a + "attention.head_count_kv") ? require_int(f, a + "attention.head_count_kv")
                                                     : h.n_head;
  h.n_ctx_train = f.get_int(a + "context_length", 2048);
  h.head_dim = f.has(a + "attention.key_length") ? require_int(f, a + "attention.key_length")
                                                 : h.n_embd / h.n_head;
  if (h.head_dim * h.n_head != h.n_embd && !f.has(a + "attention.key_length"))
    fail(f, "embedding_length " + std::to_string(h.n_embd) + " is not a multiple of head_count " +
                std::to_string(h.n_head));
  if (h.n_head % h.n_head_kv != 0)
    fail(f, "attention.head_count " + std::to_string(h.n_head) +
                " is not a multiple of head_count_kv " + std::to_string(h.n_head_kv));

  const std::string eps_key = h.arch == Arch::Falcon ? a + "attention.layer_norm_epsilon"
                                                     : a + "attention.layer_norm_rms_epsilon";
  h.norm_eps = static_cast<float>(f.get_float(eps_key, 1e-5));
  if (!(h.norm_eps > 0) || !std::isfinite(h.norm_eps)) fail(f, "'" + eps_key + "' is not positive");

  h.rope.mode = h.arch == Arch::Llama ? kernels::RopeMode::Normal : kernels::RopeMode::Neox;
  h.rope.n_rot =
      f.has(a + "rope.dimension_count") ? require_int(f, a + "rope.dimension_count") : h.head_dim;
  if (h.rope.n_rot > h.head_dim || h.rope.n_rot % 2 != 0)
    fail(f, "rope.dimension_count " + std::to_string(h.rope.n_rot) +
                " must be even and at most the head dimension " + std::to_string(h.head_dim));
  h.rope.freq_base = static_cast<float>(f.get_float(a + "rope.freq_base", 10000.0));
  const std::string scaling = f.get_string(a + "rope.scaling.type", "none");
  double factor = f.get_float(a + "rope.scaling.factor", 0.0);
  if (scaling == "linear" || (scaling == "none" && f.has(a + "rope.scale_linear"))) {
    if (scaling != "linear") factor = f.get_float(a + "rope.scale_linear", 1.0);
    if (factor > 0) h.rope.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none") {
    fail(f, "rope.scaling.type '" + scaling + "' is not supported (none, linear are)");
  }

  h.n_vocab = f.get_int(a + "vocab_size", 0);
  if (h.n_vocab <= 0) {
    if (const auto* t = f.find_tensor("token_embd.weight"); t && t->n_dims == 2)
      h.n_vocab = static_cast<int64_t>(t->dims[1]);
    else
      h.n_vocab = static_cast<int64_t>(f.get_string_array("tokenizer.ggml.tokens").size());
  }
  if (h.n_vocab <= 0) fail(f, "cannot tell the vocabulary size");
  return h;
}

}  // namespace hearth::model
