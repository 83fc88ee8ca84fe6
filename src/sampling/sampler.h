// Logits -> next token, the way llama.cpp's default chain does it: repetition
// penalties, then top-k, typical, top-p, min-p, temperature, and a seeded draw.
// Greedy (argmax, lowest id on ties) when temperature <= 0. The module's whole
// contract is this header: it also brings StopStrings (stop_strings.h).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>

#include "sampling/stop_strings.h"

namespace hearth::sampling {

// Ollama's defaults (llama.cpp's differ: top_p 0.95, min_p 0.05, repeat_penalty 1.0).
struct SamplerParams {
  static constexpr uint64_t kRandomSeed = ~uint64_t{0};  // seed from std::random_device

  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.9f;           // >= 1: off
  float min_p = 0.0f;           // <= 0: off; keeps p >= min_p * p_max
  float typical_p = 1.0f;       // >= 1: off
  float repeat_penalty = 1.1f;  // 1: off; logit > 0 ? logit / r : logit * r
  int repeat_last_n = 64;       // tokens of history penalized; 0: off, -1: all
  float presence_penalty = 0;   // subtracted once from a token seen in the window
  float frequency_penalty = 0;  // subtracted per occurrence in the window
  uint64_t seed = kRandomSeed;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams p);

  // Picks a token from `logits` (one per vocabulary entry). The penalties are
  // applied to `logits` in place; the rest works on a copy. Throws
  // std::invalid_argument on an empty span.
  int32_t sample(std::span<float> logits);
  // Adds a token to the penalty history (prompt tokens and generated ones alike).
  void accept(int32_t token);
  // Clears the history and restarts the generator from the seed (a random seed draws anew).
  void reset();
  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  std::deque<int32_t> history_;  // the last repeat_last_n accepted tokens, oldest first
  std::mt19937_64 rng_;
};

}  // namespace hearth::sampling
