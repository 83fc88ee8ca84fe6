#include "sampling/sampler.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "sampling/stages.h"

namespace hearth::sampling {

namespace {

uint64_t resolve_seed(uint64_t seed) {
  if (seed != SamplerParams::kRandomSeed) return seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Sampler::Sampler(SamplerParams p) : params_(p), rng_(resolve_seed(p.seed)) {}

void Sampler::reset() {
  history_.clear();
  rng_.seed(resolve_seed(params_.seed));
}

void Sampler::accept(int32_t token) {
  if (params_.repeat_last_n == 0) return;
  history_.push_back(token);
  if (params_.repeat_last_n > 0 && history_.size() > static_cast<size_t>(params_.repeat_last_n))
    history_.pop_front();
}

int32_t Sampler::sample(std::span<float> logits) {
  if (logits.empty()) throw std::invalid_argument("sampler: no logits");
  const SamplerParams& p = params_;
  const bool penalize =
      p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
  if (penalize && !history_.empty()) {
    const std::vector<int32_t> window(history_.begin(), history_.end());
    apply_penalties(logits, window, p.repeat_penalty, p.frequency_penalty, p.presence_penalty);
  }

  if (p.temperature <= 0.0f) {
    // Greedy: the first maximum, i.e. the lowest id among ties.
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
      if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
    return static_cast<int32_t>(best);
  }

  std::vector<Candidate> c = sorted_candidates(logits);
  if (c.empty()) throw std::invalid_argument("sampler: every logit is NaN");
  top_k(c, p.top_k);
  typical(c, p.typical_p);
  top_p(c, p.top_p);
  min_p(c, p.min_p);
  temperature(c, p.temperature);
  return draw(c, rng_);
}

}  // namespace hearth::sampling
