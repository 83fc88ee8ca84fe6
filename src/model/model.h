// A loaded model: hyper-parameters plus weights held by a backend, and the
// forward pass of its architecture expressed as backend calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "kernels/backend.h"
#include "model/hparams.h"

namespace hearth::model {

// Activation buffers of one forward pass, sized once for up to `max_tokens`
// tokens per call and `max_logit_rows` rows of logits, reused by every call.
class Scratch;

struct LayerWeights {
  std::unique_ptr<kernels::Weight> wq, wk, wv, wqkv, wo;  // wqkv: falcon's fused projection
  std::unique_ptr<kernels::Buffer> bq, bk, bv, bqkv, bo;  // biases (qwen2, some falcons)
  std::unique_ptr<kernels::Buffer> attn_norm, attn_norm_b, attn_norm_2, attn_norm_2_b;
  std::unique_ptr<kernels::Buffer> ffn_norm;
  std::unique_ptr<kernels::Weight> ffn_gate, ffn_up, ffn_down;
};

class Model {
 public:
  // Opens and validates the file (architecture, every tensor's presence and shape);
  // throws gguf::GgufError naming the file, the tensor and the shapes. The backend
  // must outlive the model.
  static std::unique_ptr<Model> load(const std::string& path, kernels::Backend& backend);
  ~Model();

  const Hparams& hparams() const { return hp_; }
  const gguf::GgufFile& file() const { return *file_; }
  kernels::Backend& backend() const { return backend_; }
  // Bytes of weights one generated token reads (all matmul weights but the embedding table).
  uint64_t bytes_per_token() const;
  uint64_t n_params() const;

  std::unique_ptr<kernels::KvCache> make_kv_cache(int64_t n_ctx, kernels::KvType type) const;
  std::unique_ptr<Scratch> make_scratch(int64_t max_tokens, int64_t max_logit_rows) const;

  // Runs tokens[0..n_tokens) at positions pos0.. through the model, storing their
  // keys and values in `cache`, and writes the logits of tokens logits_from..n_tokens-1
  // to `logits` (host memory, [n_tokens - logits_from][n_vocab]). n_tokens must fit
  // the scratch; n_tokens - logits_from its logit rows (0 rows: no logits).
  void forward(const int32_t* tokens, int64_t n_tokens, int64_t pos0, kernels::KvCache& cache,
               Scratch& scratch, int64_t logits_from, float* logits) const;

 private:
  Model(std::unique_ptr<gguf::GgufFile> file, kernels::Backend& backend);
  void load_weights();
  void forward_llama(int64_t n, int64_t pos0, kernels::KvCache& cache, Scratch& s) const;
  void forward_falcon(int64_t n, int64_t pos0, kernels::KvCache& cache, Scratch& s) const;

  std::unique_ptr<gguf::GgufFile> file_;
  kernels::Backend& backend_;
  Hparams hp_;
  std::unique_ptr<kernels::Weight> tok_embd_, output_;
  std::unique_ptr<kernels::Buffer> output_norm_, output_norm_b_;
  bool tied_output_ = false;
  std::vector<LayerWeights> layers_;
};

}  // namespace hearth::model
