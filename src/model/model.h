// A loaded model: hyper-parameters plus weights held by a backend, and the
// forward pass of its architecture expressed as backend calls.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "model/hparams.h"

namespace hearth::model {

// Activation buffers of one forward pass, sized once for up to `max_tokens`
// tokens per call and `max_logit_rows` rows of logits, reused by every call.
// Its definition is internal to src/model; other modules hold a ScratchPtr.
class Scratch;
struct ScratchDeleter {
  void operator()(Scratch* s) const;
};
using ScratchPtr = std::unique_ptr<Scratch, ScratchDeleter>;

// One sequence's share of a batched forward pass (Model::forward_batch).
struct SeqChunk {
  const int32_t* tokens = nullptr;  // [n_tokens] token ids, host memory
  int64_t n_tokens = 0;             // >= 1
  int64_t pos0 = 0;                 // position of tokens[0]; the cache holds 0..pos0-1 already
  // This sequence's own cache; forward_batch writes positions pos0..pos0+n_tokens-1.
  backend::KvCache* cache = nullptr;
  // nullptr: no logits. Else host memory [n_logits][n_vocab]: the logits after
  // each of the chunk's last n_logits tokens (1 <= n_logits <= n_tokens).
  float* logits = nullptr;
  int64_t n_logits = 1;
  // nullptr: none. Else host memory [n_tokens][n_embd]: the final hidden state
  // of every token of the chunk (after the output norm, before the output
  // projection), for embeddings. A pass in which no chunk wants logits skips
  // the vocabulary matmul.
  float* hidden = nullptr;
};

struct LayerWeights {
  std::unique_ptr<backend::Weight> wq, wk, wv, wqkv, wo;  // wqkv: falcon's fused projection
  std::unique_ptr<backend::Buffer> bq, bk, bv, bqkv, bo;  // biases (qwen2, some falcons)
  std::unique_ptr<backend::Buffer> attn_norm, attn_norm_b, attn_norm_2, attn_norm_2_b;
  std::unique_ptr<backend::Buffer> ffn_norm;
  std::unique_ptr<backend::Weight> ffn_gate, ffn_up, ffn_down;
};

class Model {
 public:
  // Opens and validates the file (architecture, every tensor's presence and shape);
  // throws gguf::GgufError naming the file, the tensor and the shapes. The backend
  // must outlive the model.
  static std::unique_ptr<Model> load(const std::string& path, backend::Backend& backend);
  ~Model();

  const Hparams& hparams() const { return hp_; }
  const gguf::GgufFile& file() const { return *file_; }
  backend::Backend& backend() const { return backend_; }
  // Bytes of weights one generated token reads (all matmul weights but the embedding table).
  uint64_t bytes_per_token() const;
  uint64_t n_params() const;

  std::unique_ptr<backend::KvCache> make_kv_cache(int64_t n_ctx, backend::KvType type) const;
  // Room for max_tokens tokens per forward pass (all chunks together) and
  // max_logit_rows rows of logits (all chunks together). Memory: max_tokens x
  // (3 n_embd + 2 q_dim + 2 kv_dim + 2 n_ff) floats (falcon: 4 n_embd +
  // 3 q_dim + 4 kv_dim + n_ff) plus max_logit_rows x n_vocab floats.
  ScratchPtr make_scratch(int64_t max_tokens, int64_t max_logit_rows) const;

  // Runs several sequences through the model in one pass: the matmuls, norms
  // and elementwise ops run once over all chunks' tokens stacked (one read of
  // the weights serves every sequence); RoPE, the KV store and attention run
  // per chunk on its own rows and cache. Each chunk's results (logits and
  // hidden states) are bitwise the same as when it runs alone (the kernels
  // compute every row in the same order whatever the rows beside it). Chunks
  // must use distinct caches; the total of n_tokens must fit the scratch, as
  // must the total of n_logits over the chunks that want logits. Throws std::invalid_argument (or
  // out_of_range for positions beyond a cache) before anything is computed.
  void forward_batch(std::span<const SeqChunk> chunks, Scratch& scratch) const;

  // One sequence: runs tokens[0..n_tokens) at positions pos0.. through the model,
  // storing their keys and values in `cache`, and writes the logits of tokens
  // logits_from..n_tokens-1 to `logits` (host memory, [n_tokens - logits_from][n_vocab];
  // logits_from >= n_tokens: no logits). A forward_batch of one chunk.
  void forward(const int32_t* tokens, int64_t n_tokens, int64_t pos0, backend::KvCache& cache,
               Scratch& scratch, int64_t logits_from, float* logits) const;

 private:
  Model(std::unique_ptr<gguf::GgufFile> file, backend::Backend& backend);
  void load_weights();
  // The blocks over n stacked tokens in s.x (the chunks' rows in order). With
  // `trim`, the last block's output projection and feed-forward run only over
  // the rows whose logits are wanted (its keys and values are stored for every
  // row first), as llama.cpp does: they are about a layer's worth of products,
  // 1/n_layer of a prompt's work, spent on rows nothing reads. Returns the rows
  // s.x then holds: n, or with `trim` those rows gathered to the front.
  int64_t forward_llama(std::span<const SeqChunk> chunks, int64_t n, Scratch& s, bool trim) const;
  int64_t forward_falcon(std::span<const SeqChunk> chunks, int64_t n, Scratch& s, bool trim) const;
  // Moves the rows of buf [n][width] whose logits are wanted (each chunk's last
  // n_logits, chunks in order) to its front; returns how many there are.
  int64_t keep_logit_rows(std::span<const SeqChunk> chunks, backend::DevPtr buf,
                          int64_t width) const;
  // RoPE on q and k, the KV store and attention of layer il, chunk by chunk over
  // its rows of q, k, v [n][...] and its cache: att [n][q_dim].
  void attend(std::span<const SeqChunk> chunks, int64_t il, backend::DevPtr q, backend::DevPtr k,
              backend::DevPtr v, backend::DevPtr att) const;

  std::unique_ptr<gguf::GgufFile> file_;
  backend::Backend& backend_;
  Hparams hp_;
  std::unique_ptr<backend::Weight> tok_embd_, output_;
  std::unique_ptr<backend::Buffer> output_norm_, output_norm_b_;
  bool tied_output_ = false;
  std::vector<LayerWeights> layers_;
};

}  // namespace hearth::model
