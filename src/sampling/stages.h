// The stages of the sampling chain, each on a list of candidates, so that each
// can be tested on its own. Sampler (sampler.h) runs them in llama.cpp's order.
//
// Every stage keeps at least one candidate. Stages that need probabilities
// compute them by softmax over the current candidates' logits.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace hearth::sampling {

struct Candidate {
  int32_t id;
  float logit;
};

// llama.cpp's penalties: for each token seen in `window` (count c):
// logit = logit > 0 ? logit / repeat : logit * repeat; logit -= c * frequency + presence.
// Tokens outside [0, logits.size()) are ignored.
void apply_penalties(std::span<float> logits, std::span<const int32_t> window, float repeat,
                     float frequency, float presence);

// All tokens as candidates, sorted by logit descending (lowest id first on ties);
// NaN logits are left out.
std::vector<Candidate> sorted_candidates(std::span<const float> logits);

// Softmax of the candidates' logits, same order.
std::vector<float> softmax(const std::vector<Candidate>& c);

// Each filter expects `c` sorted by logit descending and keeps it sorted.
void top_k(std::vector<Candidate>& c, int k);          // keep the k best (k <= 0: all)
void top_p(std::vector<Candidate>& c, float p);        // smallest prefix with mass >= p
void min_p(std::vector<Candidate>& c, float p);        // keep prob >= p * max prob
void typical(std::vector<Candidate>& c, float p);      // locally typical sampling
void temperature(std::vector<Candidate>& c, float t);  // logit /= t (t > 0)

// Draws one candidate with probability softmax(logit).
int32_t draw(const std::vector<Candidate>& c, std::mt19937_64& rng);

}  // namespace hearth::sampling
