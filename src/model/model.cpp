#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/scratch.h"
#include "quant/fp16.h"

namespace hearth::model {
namespace {

std::string shape_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace

// Looks up tensors by name and checks their shapes, so that a malformed file is
// refused at load time with the tensor's name rather than misbehaving later.
class TensorLoader {
 public:
  TensorLoader(const gguf::GgufFile& f, backend::Backend& b) : f_(f), b_(b) {}

  const gguf::TensorInfo* find(const std::string& name, const std::vector<int64_t>& dims,
                               bool required) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (required)
        fail("tensor '" + name + "' is missing (expected shape " + shape_str(dims) + ")");
      return nullptr;
    }
    std::vector<int64_t> got(t->dims, t->dims + t->n_dims);
    while (got.size() > dims.size() && got.back() == 1) got.pop_back();
    if (got != dims)
      fail("tensor '" + name + "' has shape " + shape_str(got) + ", expected " + shape_str(dims));
    return t;
  }

  // A 2-D weight of GGUF shape {cols, rows}.
  std::unique_ptr<backend::Weight> matrix(const std::string& name, int64_t cols, int64_t rows,
                                          bool required = true) const {
    const gguf::TensorInfo* t = find(name, {cols, rows}, required);
    if (!t) return nullptr;
    const gguf::TypeTraits* tr = gguf::type_traits(t->type);
    if (!tr || cols % tr->block_size != 0)
      fail("tensor '" + name + "' of type " + std::string(gguf::type_name(t->type)) +
           " cannot hold rows of " + std::to_string(cols));
    std::unique_ptr<backend::Weight> w;
    try {
      w = b_.load_weight(t->type, t->data, rows, cols);
    } catch (const std::exception& e) {
      fail("tensor '" + name + "': " + e.what());
    }
    // A copied weight's mapped pages would otherwise stay resident beside the
    // copy, doubling the process's memory (TinyLlama Q4_K_M: 1.35 GB).
    if (w->copied()) f_.release_pages(*t);
    return w;
  }

  // A 1-D vector of n values (f32, f16 or bf16), converted to f32 in backend memory.
  std::unique_ptr<backend::Buffer> vector(const std::string& name, int64_t n,
                                          bool required = true) const {
    const gguf::TensorInfo* t = find(name, {n}, required);
    if (!t) return nullptr;
    std::vector<float> host(static_cast<size_t>(n));
    const auto* u16 = reinterpret_cast<const uint16_t*>(t->data);
    for (int64_t i = 0; i < n; ++i) {
      switch (t->type) {
        case gguf::TensorType::F32:
          host[i] = reinterpret_cast<const float*>(t->data)[i];
          break;
        case gguf::TensorType::F16:
          host[i] = quant::fp16_to_fp32(u16[i]);
          break;
        case gguf::TensorType::BF16:
          host[i] = quant::bf16_to_fp32(u16[i]);
          break;
        default:
          fail("tensor '" + name + "' has type " + std::string(gguf::type_name(t->type)) +
               ", expected f32, f16 or bf16");
      }
    }
    auto buf = b_.alloc(n);
    b_.upload(host.data(), buf->data(), n);
    return buf;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw gguf::GgufError("model file '" + f_.path() + "': " + what);
  }

 private:
  const gguf::GgufFile& f_;
  backend::Backend& b_;
};

Model::Model(std::unique_ptr<gguf::GgufFile> file, backend::Backend& backend)
    : file_(std::move(file)), backend_(backend) {}
Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, backend::Backend& backend) {
  auto file = gguf::GgufFile::open(path);
  std::unique_ptr<Model> m(new Model(std::move(file), backend));
  m->hp_ = read_hparams(*m->file_);
  m->load_weights();
  return m;
}

void Model::load_weights() {
  const TensorLoader L(*file_, backend_);
  const Hparams& h = hp_;
  const int64_t E = h.n_embd, V = h.n_vocab, F = h.n_ff;
  const bool falcon = h.arch == Arch::Falcon;
  tok_embd_ = L.matrix("token_embd.weight", E, V);
  output_norm_ = L.vector("output_norm.weight", E);
  if (falcon) output_norm_b_ = L.vector("output_norm.bias", E);
  output_ = L.matrix("output.weight", E, V, /*required=*/false);
  tied_output_ = !output_;
  layers_.resize(static_cast<size_t>(h.n_layer));
  for (int64_t il = 0; il < h.n_layer; ++il) {
    LayerWeights& l = layers_[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    l.attn_norm = L.vector(p + "attn_norm.weight", E);
    l.wo = L.matrix(p + "attn_output.weight", h.q_dim(), E);
    l.ffn_up = L.matrix(p + "ffn_up.weight", E, F);
    l.ffn_down = L.matrix(p + "ffn_down.weight", F, E);
    if (falcon) {
      l.attn_norm_b = L.vector(p + "attn_norm.bias", E);
      l.attn_norm_2 = L.vector(p + "attn_norm_2.weight", E, false);
      if (l.attn_norm_2) l.attn_norm_2_b = L.vector(p + "attn_norm_2.bias", E);
      const int64_t qkv = h.q_dim() + 2 * h.kv_dim();
      l.wqkv = L.matrix(p + "attn_qkv.weight", E, qkv);
      l.bqkv = L.vector(p + "attn_qkv.bias", qkv, false);
      l.bo = L.vector(p + "attn_output.bias", E, false);
      continue;
    }
    l.wq = L.matrix(p + "attn_q.weight", E, h.q_dim());
    l.wk = L.matrix(p + "attn_k.weight", E, h.kv_dim());
    l.wv = L.matrix(p + "attn_v.weight", E, h.kv_dim());
    const bool biases = h.arch == Arch::Qwen2;
    l.bq = L.vector(p + "attn_q.bias", h.q_dim(), biases);
    l.bk = L.vector(p + "attn_k.bias", h.kv_dim(), biases);
    l.bv = L.vector(p + "attn_v.bias", h.kv_dim(), biases);
    l.ffn_norm = L.vector(p + "ffn_norm.weight", E);
    l.ffn_gate = L.matrix(p + "ffn_gate.weight", E, F);
  }
}

uint64_t Model::bytes_per_token() const {
  uint64_t n = (tied_output_ ? tok_embd_ : output_)->bytes();
  for (const auto& l : layers_)
    for (const auto* w : {l.wq.get(), l.wk.get(), l.wv.get(), l.wqkv.get(), l.wo.get(),
                          l.ffn_gate.get(), l.ffn_up.get(), l.ffn_down.get()})
      if (w) n += w->bytes();
  return n;
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.n_elements();
  return n;
}

std::unique_ptr<backend::KvCache> Model::make_kv_cache(int64_t n_ctx, backend::KvType type) const {
  return backend_.alloc_kv_cache({hp_.n_layer, n_ctx, hp_.n_head_kv, hp_.head_dim}, type);
}

void ScratchDeleter::operator()(Scratch* s) const { delete s; }

ScratchPtr Model::make_scratch(int64_t max_tokens, int64_t max_logit_rows) const {
  if (max_tokens <= 0) throw std::invalid_argument("scratch for no tokens");
  ScratchPtr s(new Scratch);
  auto& b = backend_;
  const int64_t T = max_tokens;
  s->max_tokens = T;
  s->max_logit_rows = max_logit_rows;
  s->x = b.alloc(T * hp_.n_embd);
  s->xn = b.alloc(T * hp_.n_embd);
  s->q = b.alloc(T * hp_.q_dim());
  s->k = b.alloc(T * hp_.kv_dim());
  s->v = b.alloc(T * hp_.kv_dim());
  s->att = b.alloc(T * hp_.q_dim());
  s->proj = b.alloc(T * hp_.n_embd);
  s->up = b.alloc(T * hp_.n_ff);
  if (hp_.arch == Arch::Falcon) {
    s->qkv = b.alloc(T * (hp_.q_dim() + 2 * hp_.kv_dim()));
    s->xn2 = b.alloc(T * hp_.n_embd);
  } else {
    s->gate = b.alloc(T * hp_.n_ff);
  }
  s->logits = b.alloc(std::max<int64_t>(max_logit_rows, 1) * hp_.n_vocab);
  return s;
}

void Model::forward(const int32_t* tokens, int64_t n, int64_t pos0, backend::KvCache& cache,
                    Scratch& s, int64_t logits_from, float* logits) const {
  if (logits_from < 0)
    throw std::invalid_argument("forward: logits from " + std::to_string(logits_from));
  const int64_t n_rows = n - logits_from;
  const SeqChunk chunk{tokens, n, pos0, &cache, n_rows > 0 ? logits : nullptr, n_rows};
  forward_batch(std::span(&chunk, 1), s);
}

void Model::forward_batch(std::span<const SeqChunk> chunks, Scratch& s) const {
  int64_t n = 0, n_rows = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SeqChunk& c = chunks[i];
    const std::string which =
        "forward: sequence " + std::to_string(i) + " of " + std::to_string(chunks.size()) + ": ";
    if (!c.tokens || c.n_tokens <= 0 || !c.cache)
      throw std::invalid_argument(which + std::to_string(c.n_tokens) + " tokens" +
                                  (c.cache ? "" : ", no KV cache"));
    if (c.logits && (c.n_logits < 1 || c.n_logits > c.n_tokens))
      throw std::invalid_argument(which + std::to_string(c.n_logits) + " rows of logits from " +
                                  std::to_string(c.n_tokens) + " tokens");
    if (c.pos0 < 0 || c.pos0 + c.n_tokens > c.cache->n_ctx())
      throw std::out_of_range(which + "positions " + std::to_string(c.pos0) + ".." +
                              std::to_string(c.pos0 + c.n_tokens) + " exceed the context of " +
                              std::to_string(c.cache->n_ctx()));
    for (size_t j = 0; j < i; ++j)
      if (chunks[j].cache == c.cache)
        throw std::invalid_argument(which + "shares its KV cache with sequence " +
                                    std::to_string(j));
    n += c.n_tokens;
    if (c.logits) n_rows += c.n_logits;
  }
  if (n <= 0 || n > s.max_tokens || n_rows > s.max_logit_rows)
    throw std::invalid_argument(
        "forward: " + std::to_string(n) + " tokens and " + std::to_string(n_rows) +
        " rows of logits do not fit the scratch (" + std::to_string(s.max_tokens) + " tokens, " +
        std::to_string(s.max_logit_rows) + " logit rows)");
  auto& b = backend_;
  const int64_t E = hp_.n_embd, V = hp_.n_vocab;
  const backend::DevPtr x = s.x->data();
  int64_t off = 0;
  for (const SeqChunk& c : chunks) {
    b.get_rows(*tok_embd_, c.tokens, c.n_tokens, x + off * E);
    off += c.n_tokens;
  }
  bool hidden = false;
  for (const SeqChunk& c : chunks) hidden = hidden || c.hidden;
  // Hidden states are every row's, so then the last block runs over all of them.
  const int64_t m = hp_.arch == Arch::Falcon ? forward_falcon(chunks, n, s, !hidden)
                                             : forward_llama(chunks, n, s, !hidden);
  if (n_rows == 0 && !hidden) return;
  const auto output_norm = [&](backend::DevPtr rows, int64_t m) {
    if (hp_.arch == Arch::Falcon)
      b.layernorm(rows, output_norm_->data(), output_norm_b_->data(), m, E, hp_.norm_eps, rows);
    else
      b.rmsnorm(rows, output_norm_->data(), m, E, hp_.norm_eps, rows);
  };
  if (hidden) {
    output_norm(x, m);
    off = 0;
    for (const SeqChunk& c : chunks) {
      if (c.hidden) b.download(x + off * E, c.hidden, c.n_tokens * E);
      off += c.n_tokens;
    }
    if (n_rows == 0) return;
    keep_logit_rows(chunks, x, E);
  } else {
    output_norm(x, m);  // m == n_rows: the last block kept just the logits' rows
  }
  b.matmul(tied_output_ ? *tok_embd_ : *output_, x, n_rows, s.logits->data());
  int64_t row = 0;
  for (const SeqChunk& c : chunks) {
    if (!c.logits) continue;
    b.download(s.logits->data() + row * V, c.logits, c.n_logits * V);
    row += c.n_logits;
  }
}

int64_t Model::keep_logit_rows(std::span<const SeqChunk> chunks, backend::DevPtr buf,
                               int64_t width) const {
  int64_t off = 0, kept = 0;
  for (const SeqChunk& c : chunks) {
    if (c.logits) {
      // Rows only move towards the front, which copy allows in place.
      backend_.copy(buf + (off + c.n_tokens - c.n_logits) * width, width, buf + kept * width, width,
                    c.n_logits, width);
      kept += c.n_logits;
    }
    off += c.n_tokens;
  }
  return kept;
}

void Model::attend(std::span<const SeqChunk> chunks, int64_t il, backend::DevPtr q,
                   backend::DevPtr k, backend::DevPtr v, backend::DevPtr att) const {
  auto& b = backend_;
  const Hparams& h = hp_;
  const int64_t qd = h.q_dim(), kvd = h.kv_dim();
  const backend::AttentionParams ap{h.n_head, h.n_head_kv, h.head_dim,
                                    1.0f / std::sqrt(static_cast<float>(h.head_dim))};
  int64_t off = 0;
  for (const SeqChunk& c : chunks) {
    const int64_t m = c.n_tokens;
    const backend::DevPtr cq = q + off * qd, ck = k + off * kvd;
    b.rope(cq, m, h.n_head, h.head_dim, c.pos0, h.rope);
    b.rope(ck, m, h.n_head_kv, h.head_dim, c.pos0, h.rope);
    b.kv_store(*c.cache, il, ck, v + off * kvd, m, c.pos0);
    b.attention(cq, *c.cache, il, m, c.pos0, ap, att + off * qd);
    off += m;
  }
}

}  // namespace hearth::model
