// Logits -> next token, the way llama.cpp's default chain does it: repetition
// penalties, then top-k, typical, top-p, min-p, temperature, and a seeded draw.
// Greedy (argmax, lowest id on ties) when temperature <= 0. The module's whole
// contract is this header: it also brings StopStrings (stop_strings.h).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>

#include "sampling/param_error.h"
#include "sampling/stop_strings.h"

namespace hearth::sampling {

// Ollama's defaults (llama.cpp's differ: top_p 0.95, min_p 0.05).
struct SamplerParams {
  static constexpr uint64_t kRandomSeed = ~uint64_t{0};  // seed from std::random_device

  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.9f;           // >= 1: off
  float min_p = 0.0f;           // <= 0: off; keeps p >= min_p * p_max
  float typical_p = 1.0f;       // >= 1: off
  float repeat_penalty = 1.0f;  // 1: off; logit > 0 ? logit / r : logit * r
  int repeat_last_n = 64;       // tokens of history penalized; 0: off, -1: all
  float presence_penalty = 0;   // subtracted once from a token seen in the window
  float frequency_penalty = 0;  // subtracted per occurrence in the window
  uint64_t seed = kRandomSeed;
};

// Throws ParamError (named by the Ollama option, e.g. "top_p") when a field is
// outside its meaning: temperature finite and >= 0; top_k >= 0; top_p and
// typical_p in (0, 1]; min_p in [0, 1]; repeat_penalty finite and > 0;
// repeat_last_n >= -1; presence and frequency penalties finite.
void validate(const SamplerParams& p);

class Sampler {
 public:
  explicit Sampler(SamplerParams p);  // does not validate: call validate() on user input

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
