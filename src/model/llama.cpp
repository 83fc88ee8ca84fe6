// The llama (Llama 2/3, Mistral, TinyLlama, SmolLM) and qwen2 blocks: pre-norm
// RMSNorm, attention with GQA and RoPE (qwen2 adds Q/K/V biases and uses NEOX
// pairs), SwiGLU feed-forward, residual adds.
#include "model/model.h"
#include "model/scratch.h"

namespace hearth::model {

int64_t Model::forward_llama(std::span<const SeqChunk> chunks, int64_t n, Scratch& s,
                             bool trim) const {
  auto& b = backend_;
  const Hparams& h = hp_;
  const int64_t E = h.n_embd;
  const backend::DevPtr x = s.x->data(), xn = s.xn->data(), q = s.q->data(), k = s.k->data(),
                        v = s.v->data(), att = s.att->data(), proj = s.proj->data(),
                        gate = s.gate->data(), up = s.up->data();
  for (int64_t il = 0; il < h.n_layer; ++il) {
    const LayerWeights& l = layers_[static_cast<size_t>(il)];
    b.rmsnorm(x, l.attn_norm->data(), n, E, h.norm_eps, xn);
    const backend::Backend::MatmulOut qkv[] = {{l.wq.get(), q}, {l.wk.get(), k}, {l.wv.get(), v}};
    b.matmul_shared(qkv, xn, n);
    if (l.bq) b.add_bias(q, l.bq->data(), n, h.q_dim());
    if (l.bk) b.add_bias(k, l.bk->data(), n, h.kv_dim());
    if (l.bv) b.add_bias(v, l.bv->data(), n, h.kv_dim());
    attend(chunks, il, q, k, v, att);
    if (trim && il == h.n_layer - 1) {
      n = keep_logit_rows(chunks, x, E);
      keep_logit_rows(chunks, att, h.q_dim());
      if (n == 0) break;
    }
    b.matmul(*l.wo, att, n, proj);
    b.add(x, proj, x, n * E);

    b.rmsnorm(x, l.ffn_norm->data(), n, E, h.norm_eps, xn);
    const backend::Backend::MatmulOut gate_up[] = {{l.ffn_gate.get(), gate}, {l.ffn_up.get(), up}};
    b.matmul_shared(gate_up, xn, n);
    b.swiglu(gate, up, gate, n * h.n_ff);
    b.matmul(*l.ffn_down, gate, n, proj);
    b.add(x, proj, x, n * E);
  }
  return n;
}

}  // namespace hearth::model
