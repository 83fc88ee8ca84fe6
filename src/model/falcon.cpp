// The falcon block: one LayerNorm (two in the 40B layout) feeding attention and
// the GELU MLP in parallel, a fused QKV projection, multi-query attention with
// NEOX RoPE, and x + attention + MLP as the block's output.
#include "model/model.h"
#include "model/scratch.h"

namespace hearth::model {

int64_t Model::forward_falcon(std::span<const SeqChunk> chunks, int64_t n, Scratch& s,
                              bool trim) const {
  auto& b = backend_;
  const Hparams& h = hp_;
  const int64_t E = h.n_embd, qd = h.q_dim(), kvd = h.kv_dim(), qkvd = qd + 2 * kvd;
  const backend::DevPtr x = s.x->data(), xn = s.xn->data(), xn2 = s.xn2->data(),
                        qkv = s.qkv->data(), q = s.q->data(), k = s.k->data(), v = s.v->data(),
                        att = s.att->data(), proj = s.proj->data(), up = s.up->data();
  for (int64_t il = 0; il < h.n_layer; ++il) {
    const LayerWeights& l = layers_[static_cast<size_t>(il)];
    b.layernorm(x, l.attn_norm->data(), l.attn_norm_b->data(), n, E, h.norm_eps, xn);
    backend::DevPtr mlp_in = xn;
    if (l.attn_norm_2) {
      b.layernorm(x, l.attn_norm_2->data(), l.attn_norm_2_b->data(), n, E, h.norm_eps, xn2);
      mlp_in = xn2;
    }
    // Each token's fused row is [q | k | v].
    b.matmul(*l.wqkv, xn, n, qkv);
    if (l.bqkv) b.add_bias(qkv, l.bqkv->data(), n, qkvd);
    b.copy(qkv, qkvd, q, qd, n, qd);
    b.copy(qkv + qd, qkvd, k, kvd, n, kvd);
    b.copy(qkv + qd + kvd, qkvd, v, kvd, n, kvd);
    attend(chunks, il, q, k, v, att);
    if (trim && il == h.n_layer - 1) {
      n = keep_logit_rows(chunks, x, E);
      keep_logit_rows(chunks, att, qd);
      keep_logit_rows(chunks, mlp_in, E);
      if (n == 0) break;
    }
    b.matmul(*l.wo, att, n, proj);
    if (l.bo) b.add_bias(proj, l.bo->data(), n, E);
    b.add(x, proj, x, n * E);

    b.matmul(*l.ffn_up, mlp_in, n, up);
    b.gelu(up, n * h.n_ff);
    b.matmul(*l.ffn_down, up, n, proj);
    b.add(x, proj, x, n * E);
  }
  return n;
}

}  // namespace hearth::model
