#include "quant/mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace hearth::quant {
namespace {

using gguf::TensorType;

bool is_quantized(TensorType t) {
  return t != TensorType::F32 && t != TensorType::F16 && t != TensorType::BF16;
}

uint32_t block_size(TensorType t) { return gguf::type_traits(t)->block_size; }

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}
bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

enum class Category {
  TokenEmbd,
  AttnQ,
  AttnV,
  AttnK,
  AttnOutput,
  FfnUp,
  FfnGate,
  FfnDown,
  Output,
  Other
};

Category category_of(std::string_view name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
    return Category::TokenEmbd;
  }
  // attn_qkv and attn_kv_b count as attn_v: they hold the values.
  if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") ||
      contains(name, "attn_v.weight")) {
    return Category::AttnV;
  }
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

// 2-D (and 3-D) weights only; never norms, gates of experts, positional or
// token-type embeddings, or the small special tensors llama.cpp keeps as they are.
bool allows_quantization(const TensorShape& t) {
  if (t.n_dims < 2) return false;
  const std::string_view n = t.name;
  if (!ends_with(n, "weight")) return false;
  static constexpr std::string_view kKeep[] = {"_norm.weight",
                                               "ffn_gate_inp.weight",
                                               "altup",
                                               "laurel",
                                               "per_layer_model_proj",
                                               "ssm_conv1d",
                                               "shortconv.conv.weight",
                                               "time_mix_first.weight",
                                               "time_mix_w0.weight",
                                               "time_mix_w1.weight",
                                               "time_mix_w2.weight",
                                               "time_mix_v0.weight",
                                               "time_mix_v1.weight",
                                               "time_mix_v2.weight",
                                               "time_mix_a0.weight",
                                               "time_mix_a1.weight",
                                               "time_mix_a2.weight",
                                               "time_mix_g1.weight",
                                               "time_mix_g2.weight",
                                               "time_mix_decay_w1.weight",
                                               "time_mix_decay_w2.weight",
                                               "time_mix_lerp_fused.weight",
                                               "attn_rel_b.weight",
                                               ".position_embd",
                                               "sam.pos_embd",
                                               "sam.neck.",
                                               "sam.net_",
                                               ".rel_pos",
                                               ".patch_embd",
                                               ".patch_merger"};
  for (std::string_view k : kKeep) {
    if (contains(n, k)) return false;
  }
  return n != "position_embd.weight" && n != "token_types.weight";
}

int layer_of(std::string_view name) {
  int layer = -1;
  if (std::sscanf(std::string(name).c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// llama.cpp's "more bits" layers: the first and last eighth, and every third between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Rows that do not fill whole blocks of the chosen type get a type with 32-weight blocks.
TensorType fallback(TensorType chosen, uint64_t ne0) {
  if (ne0 % block_size(chosen) == 0) return chosen;
  TensorType alt = TensorType::F16;
  switch (chosen) {
    case TensorType::Q2_K:
    case TensorType::Q3_K:
      alt = TensorType::Q4_0;
      break;
    case TensorType::Q4_K:
      alt = TensorType::Q5_0;
      break;
    case TensorType::Q5_K:
      alt = TensorType::Q5_1;
      break;
    case TensorType::Q6_K:
      alt = TensorType::Q8_0;
      break;
    default:
      break;  // llama.cpp refuses here; hearth keeps such a tensor in f16
  }
  return ne0 % block_size(alt) == 0 ? alt : TensorType::F16;
}

struct MixState {
  bool tied_embeddings = true;  // no output.weight: token_embd doubles as the output
  int n_attn_v = 0;
  int i_attn_v = 0;
  int i_ffn_down = 0;
};

TensorType choose_mixed(const FileType& target, const ModelShape& m, MixState& st,
                        const TensorShape& t) {
  const std::string_view ft = target.name;
  const bool falcon = m.arch == "falcon";
  TensorType type = target.base;
  const Category cat = category_of(t.name);
  if (cat == Category::Output || (st.tied_embeddings && cat == Category::TokenEmbd)) {
    if (falcon || t.ne0 % block_size(type) != 0) {
      type = TensorType::Q8_0;
    } else if (type != TensorType::Q8_0) {
      type = TensorType::Q6_K;
    }
  } else if (cat == Category::AttnV) {
    if ((ft == "q4_k_m" || ft == "q5_k_m") && use_more_bits(st.i_attn_v, st.n_attn_v)) {
      type = TensorType::Q6_K;
    } else if (ft == "q4_k_s" && st.i_attn_v < 4) {
      type = TensorType::Q5_K;
    }
    // llama.cpp's 70B class: 8 query heads share each attn_v, so it is cheap to widen.
    const bool is_70b =
        m.n_layer == 80 && (m.arch == "qwen2" || m.arch == "olmo" || m.arch == "deci" ||
                            (m.arch == "llama" && m.n_head != m.n_head_kv));
    if (is_70b && (type == TensorType::Q3_K || type == TensorType::Q4_K)) type = TensorType::Q5_K;
    if (m.n_expert == 8) type = TensorType::Q8_0;
    ++st.i_attn_v;
  } else if (cat == Category::AttnK) {
    if (m.n_expert == 8) type = TensorType::Q8_0;
  } else if (cat == Category::FfnDown) {
    int i_layer = st.i_ffn_down;
    if (m.n_expert > 1) {
      i_layer = layer_of(t.name);
      if (i_layer < 0 || i_layer >= m.n_layer) {
        throw std::runtime_error("cannot tell the layer of expert tensor " + t.name);
      }
    }
    const int n = m.n_layer;
    if (ft == "q4_k_m") {
      if (falcon) {
        type = i_layer < n / 16            ? TensorType::Q6_K
               : use_more_bits(i_layer, n) ? TensorType::Q5_K
                                           : TensorType::Q4_K;
      } else if (use_more_bits(i_layer, n)) {
        type = TensorType::Q6_K;
      }
    } else if (ft == "q5_k_m" && use_more_bits(i_layer, n)) {
      type = TensorType::Q6_K;
    } else if (ft == "q4_k_s" && !falcon && i_layer < n / 8) {
      type = TensorType::Q5_K;
    }
    ++st.i_ffn_down;
  } else if (cat == Category::AttnOutput) {
    if (!falcon && m.n_expert == 8 && (ft == "q4_k_s" || ft == "q4_k_m")) type = TensorType::Q5_K;
  }
  return type;
}

}  // namespace

const std::vector<FileType>& file_types() {
  static const std::vector<FileType> kTypes = {
      {"f32", 0, TensorType::F32, "32-bit float"},
      {"f16", 1, TensorType::F16, "16-bit IEEE half"},
      {"bf16", 32, TensorType::BF16, "16-bit bfloat"},
      {"q8_0", 7, TensorType::Q8_0, "8.5 bits per weight"},
      {"q6_k", 18, TensorType::Q6_K, "6.56 bpw"},
      {"q5_k_m", 17, TensorType::Q5_K, "Q5_K, attn_v/ffn_down partly Q6_K"},
      {"q5_k_s", 16, TensorType::Q5_K, "Q5_K throughout"},
      {"q5_1", 9, TensorType::Q5_1, "6 bpw"},
      {"q5_0", 8, TensorType::Q5_0, "5.5 bpw"},
      {"q4_k_m", 15, TensorType::Q4_K, "Q4_K, attn_v/ffn_down partly Q6_K"},
      {"q4_k_s", 14, TensorType::Q4_K, "Q4_K, first layers Q5_K"},
      {"q4_1", 3, TensorType::Q4_1, "5 bpw"},
      {"q4_0", 2, TensorType::Q4_0, "4.5 bpw"},
  };
  return kTypes;
}

std::optional<FileType> find_file_type(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "q4_k") lower = "q4_k_m";
  if (lower == "q5_k") lower = "q5_k_m";
  for (const FileType& f : file_types()) {
    if (f.name == lower) return f;
  }
  return std::nullopt;
}

std::vector<size_t> llama_tensor_order(const std::vector<TensorShape>& tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name);
    const int lb = layer_of(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });
  return order;
}

std::vector<TensorType> choose_tensor_types(const FileType& target, const ModelShape& model,
                                            const std::vector<TensorShape>& tensors) {
  MixState st;
  for (const TensorShape& t : tensors) {
    const Category c = category_of(t.name);
    if (c == Category::Output) st.tied_embeddings = false;
    if (c == Category::AttnV) ++st.n_attn_v;
  }
  std::vector<TensorType> out(tensors.size());
  for (size_t i : llama_tensor_order(tensors)) {
    const TensorShape& t = tensors[i];
    if (!allows_quantization(t)) {
      // Kept as they are, except that 1-D tensors (norms, biases) stored as
      // f16/bf16 become f32: hearth's kernels read 1-D tensors as f32.
      const bool half_vector =
          t.n_dims == 1 && (t.type == TensorType::F16 || t.type == TensorType::BF16);
      out[i] = half_vector ? TensorType::F32 : t.type;
      continue;
    }
    TensorType type = target.base;
    if (is_quantized(type)) type = fallback(choose_mixed(target, model, st, t), t.ne0);
    out[i] = type;
  }
  return out;
}

}  // namespace hearth::quant
