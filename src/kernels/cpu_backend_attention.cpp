// Causal attention over the CPU KV cache, with GQA.
//
// Work items are (KV head, block of query tokens): each converts its head's keys
// and values once to f32 and serves every query head of the group and every
// token of the block. The per-row path over an f16 cache also splits a
// group's query heads into chunks when there are fewer items than threads.
//
// The row arithmetic follows llama.cpp's CPU flash attention, because greedy
// tokens of quantized models are sensitive to it (activation quantization
// amplifies small differences): batches under 64 tokens (generation, short
// prompts) take its per-row path -- Q rounded to the cache's type, an online
// softmax, and for an f16 cache the output accumulated in f16 -- while larger
// batches take its tiled path: f32 Q, scores, softmax and accumulation (on
// AVX-512, tiles of 32 query rows: attention_avx512.cpp; on AVX2, of 16: attention_avx2.cpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "kernels/cpu_backend_kv.h"
#include "kernels/cpu_features.h"
#include "quant/fp16.h"

namespace hearth::kernels {
namespace {

// llama.cpp's tile of query rows: batches at least this large take the tiled path.
constexpr int64_t kTiledMinTokens = 64;

// The fewest query heads a chunk of the per-row path takes: its kernel reads
// each key once for all its rows, so smaller chunks would mostly re-read keys.
constexpr int64_t kMinChunkRows = 4;

// q.k for the per-row path with an f16 cache: below 64 dimensions llama.cpp's
// f16 dot product runs its scalar tail, summing f32 products in double.
float dot_f16_row(const float* q, const float* k, int64_t n) {
  if (n >= 64) return ops::dot(q, k, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(q[i] * k[i]);
  return static_cast<float>(s);
}

// One query row, scores then softmax then the weighted sum, all f32 (the tiled path).
void attend_softmax(const float* q, const float* kf, const float* vf, int64_t nk, int64_t hd,
                    float scale, float* scores, float* out) {
  for (int64_t j = 0; j < nk; ++j) scores[j] = ops::dot(q, kf + j * hd, hd) * scale;
  ops::softmax(scores, nk);
  std::memset(out, 0, static_cast<size_t>(hd) * 4);
  for (int64_t j = 0; j < nk; ++j) ops::axpy(scores[j], vf + j * hd, out, hd);
}

}  // namespace

void attend_row_online(const float* q, const float* kf, const float* vf, int64_t nk, int64_t hd,
                       float scale, backend::KvType type, float* scratch, float* out) {
  float* qh = scratch;      // [hd] Q as the cache's dot product sees it
  float* acc = qh + hd;     // [hd]
  float* bytes = acc + hd;  // [hd] room for a q8_0 row of hd values
  if (type == backend::KvType::F16) {
    for (int64_t d = 0; d < hd; ++d) qh[d] = quant::fp16_to_fp32(quant::fp32_to_fp16(q[d]));
  } else {
    // Q is quantized to q8_0 like the keys; its dequantized values give the same dot.
    quant::quantize_row(gguf::TensorType::Q8_0, q, bytes, hd);
    quant::dequantize_row(gguf::TensorType::Q8_0, bytes, qh, hd);
  }
  float m = -INFINITY, sum = 0;
  std::memset(acc, 0, static_cast<size_t>(hd) * 4);
  for (int64_t j = 0; j < nk; ++j) {
    const float* k = kf + j * hd;
    const float score =
        (type == backend::KvType::F16 ? dot_f16_row(qh, k, hd) : ops::dot(qh, k, hd)) * scale;
    float ms = 1, vs = 1;
    if (score > m) {
      ms = std::exp(m - score);
      m = score;
      ops::scale(acc, ms, hd);
      if (type == backend::KvType::F16)
        ops::round_to_f16(acc, hd);  // llama.cpp rounds the scaled f16 too
    } else {
      vs = std::exp(score - m);
    }
    ops::axpy(vs, vf + j * hd, acc, hd);
    if (type == backend::KvType::F16) ops::round_to_f16(acc, hd);  // llama.cpp's f16 accumulator
    sum = std::fma(sum, ms, vs);  // llama.cpp's build contracts this to an FMA
  }
  const float inv = sum == 0 ? 0 : 1.0f / sum;
  for (int64_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
}

// Sized for the widest tile (AVX-512: Q transposed and the scores, 32 lanes).
size_t attention_tile_scratch_floats(int64_t n_keys, int64_t hd) {
  return static_cast<size_t>((n_keys + hd) * 32);
}

void attention_tile_rows(const float* q, float* out, int64_t t0, int64_t pos0, int64_t h0,
                         int64_t group, int64_t n_heads, int64_t hd, int64_t r0, int n, int lanes,
                         float** orow, int32_t* limit, float* qt) {
  for (int i = 0; i < lanes; ++i) {
    const int64_t r = r0 + std::min(i, n - 1);
    const int64_t t = t0 + r / group, h = h0 + r % group;
    const float* qrow = q + (t * n_heads + h) * hd;
    orow[i] = out + (t * n_heads + h) * hd;
    limit[i] = static_cast<int32_t>(pos0 + t + 1);
    for (int64_t d = 0; d < hd; ++d) qt[d * lanes + i] = qrow[d];
  }
}

void cpu_attention(ThreadPool& pool, AttentionScratch& scratch, const float* q, const CpuKvCache& c,
                   int64_t layer, int64_t n_tokens, int64_t pos0, const backend::AttentionParams& p,
                   float* out) {
  if (p.n_kv_heads != c.shape().n_kv_heads || p.head_dim != c.shape().head_dim ||
      p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0)
    throw std::invalid_argument("attention: heads " + std::to_string(p.n_heads) + "/" +
                                std::to_string(p.n_kv_heads) + " do not fit the KV cache");
  const int64_t hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
  const bool tiled = c.type() == backend::KvType::F16 && n_tokens >= kTiledMinTokens;
  const SimdLevel level = best_simd_level();
  const auto tile = !tiled || hd % 16 != 0        ? nullptr
                    : level >= SimdLevel::kAvx512 ? attend_tiled_avx512
                    : level >= SimdLevel::kAvx2   ? attend_tiled_avx2
                                                  : nullptr;
  // Tiles: 16 tokens x the group's heads per item (4 chunks of 32 rows, or 8
  // of 16, for 8 heads), so each item's key and value conversion serves more rows.
  // The per-row path reads an f16 cache directly where the AVX2 or AVX-512
  // kernel applies (attention_rows.h).
  const bool direct = !tiled && c.type() == backend::KvType::F16 && level >= SimdLevel::kAvx2 &&
                      hd >= 64 && hd % 16 == 0;
  const int64_t block = tile ? 16 : n_tokens <= 4 ? n_tokens : 8;
  const int64_t n_blocks = (n_tokens + block - 1) / block;
  // Generation has one item per KV head, so a model with one (Falcon-7B: 71
  // query heads share it) ran its attention on one thread, and one with 4 on
  // at most 4. The direct path's rows are independent of each other, so its
  // group splits into chunks of query heads, the bits unchanged; each chunk
  // reads the head's keys and values again, mostly from the cache the chunks
  // share, as they run at the same time.
  const int64_t base_items = p.n_kv_heads * n_blocks;
  const int64_t n_chunks =
      direct
          ? std::clamp<int64_t>((static_cast<int64_t>(pool.size()) + base_items - 1) / base_items,
                                1, std::max<int64_t>(1, group / kMinChunkRows))
          : 1;
  const int64_t chunk_rows = (group + n_chunks - 1) / n_chunks;
  const int64_t n_items = base_items * n_chunks;
  const int64_t n_keys_max = pos0 + n_tokens;
  // kf, vf [n_keys][hd]; the row scratch [3 hd]; scores [n_keys].
  const size_t need = direct ? attention_row_scratch_floats(group, hd)
                             : static_cast<size_t>(n_keys_max * (2 * hd + 1) + 3 * hd) +
                                   (tile ? attention_tile_scratch_floats(n_keys_max, hd) : 0);
  scratch.resize(static_cast<size_t>(pool.size()));
  for (auto& s : scratch)
    if (s.size() < need) s.resize(need);

  const auto rows = level >= SimdLevel::kAvx512 ? attend_rows_f16_avx512 : attend_rows_f16_avx2;
  std::atomic<int64_t> next{0};
  auto work = [&](int thread, int) {
    float* kf = scratch[static_cast<size_t>(thread)].data();
    for (int64_t item; (item = next.fetch_add(1)) < n_items;) {
      const int64_t chunk = item % n_chunks, kvh = item / n_chunks % p.n_kv_heads,
                    b = item / n_chunks / p.n_kv_heads;
      const int64_t t0 = b * block, t1 = std::min(n_tokens, t0 + block);
      const int64_t n_keys = pos0 + t1;
      if (direct) {
        const auto* k0 = reinterpret_cast<const uint16_t*>(c.k_head(layer, kvh, 0));
        const auto* v0 = reinterpret_cast<const uint16_t*>(c.v_head(layer, kvh, 0));
        const int64_t r0 = chunk * chunk_rows, r1 = std::min(group, r0 + chunk_rows);
        for (int64_t t = t0; t < t1 && r0 < r1; ++t) {
          const int64_t row0 = (t * p.n_heads + kvh * group + r0) * hd;
          rows(q + row0, out + row0, static_cast<int>(r1 - r0), k0, v0, pos0 + t + 1, hd, p.scale,
               kf);
        }
        continue;
      }
      // The general paths' scratch (the direct path's is smaller: only kf).
      float* vf = kf + n_keys_max * hd;
      float* row = vf + n_keys_max * hd;  // attend_row_online's 3 x hd
      float* scores = row + 3 * hd;       // [n_keys_max], then the tiles' scratch
      const uint8_t *kh = c.k_head(layer, kvh, 0), *vh = c.v_head(layer, kvh, 0);
      for (int64_t j = 0; j < n_keys; ++j) {
        c.load_head(kh + j * c.head_bytes(), kf + j * hd);
        c.load_head(vh + j * c.head_bytes(), vf + j * hd);
      }
      if (tile) {
        tile(q, kf, vf, t0, t1, pos0, kvh * group, group, p.n_heads, hd, p.scale,
             scores + n_keys_max, out);
        continue;
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t nk = pos0 + t + 1;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
          const float* qrow = q + (t * p.n_heads + h) * hd;
          float* o = out + (t * p.n_heads + h) * hd;
          if (tiled)
            attend_softmax(qrow, kf, vf, nk, hd, p.scale, scores, o);
          else
            attend_row_online(qrow, kf, vf, nk, hd, p.scale, c.type(), row, o);
        }
      }
    }
  };
  if (n_items == 1)
    work(0, 1);
  else
    pool.run(work);
}

}  // namespace hearth::kernels
