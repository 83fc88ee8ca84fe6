#include "sampling/stages.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace hearth::sampling {

namespace {

bool better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void keep(std::vector<Candidate>& c, size_t n) {
  c.resize(std::max<size_t>(1, std::min(n, c.size())));
}

}  // namespace

void apply_penalties(std::span<float> logits, std::span<const int32_t> window, float repeat,
                     float frequency, float presence) {
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : window)
    if (t >= 0 && static_cast<size_t>(t) < logits.size()) ++counts[t];
  for (const auto& [t, n] : counts) {
    float& l = logits[static_cast<size_t>(t)];
    l = l > 0 ? l / repeat : l * repeat;
    l -= static_cast<float>(n) * frequency + presence;
  }
}

std::vector<Candidate> sorted_candidates(std::span<const float> logits) {
  std::vector<Candidate> c;
  c.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i])) c.push_back({static_cast<int32_t>(i), logits[i]});
  std::sort(c.begin(), c.end(), better);
  return c;
}

std::vector<float> softmax(const std::vector<Candidate>& c) {
  std::vector<float> p(c.size());
  if (c.empty()) return p;
  float max = c[0].logit;
  for (const Candidate& x : c) max = std::max(max, x.logit);
  double sum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    p[i] = std::isinf(max) && c[i].logit == max ? 1.0f : std::exp(c[i].logit - max);
    sum += p[i];
  }
  for (float& x : p) x = static_cast<float>(x / sum);
  return p;
}

void top_k(std::vector<Candidate>& c, int k) {
  if (k > 0) keep(c, static_cast<size_t>(k));
}

void top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.empty()) return;
  const std::vector<float> probs = softmax(c);
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += probs[i];
    if (cum >= p) return keep(c, i + 1);
  }
}

void min_p(std::vector<Candidate>& c, float p) {
  if (p <= 0.0f || c.empty()) return;
  // p_i >= p * p_max  <=>  logit_i >= logit_max + log(p)
  const float threshold = c[0].logit + std::log(p);
  size_t n = 0;
  while (n < c.size() && c[n].logit >= threshold) ++n;
  keep(c, n);
}

void typical(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.size() < 2) return;
  const std::vector<float> probs = softmax(c);
  double entropy = 0;
  for (float x : probs)
    if (x > 0) entropy -= x * std::log(x);
  // Rank by how far each token's information content is from the entropy.
  std::vector<size_t> order(c.size());
  std::vector<double> shift(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    order[i] = i;
    shift[i] = std::fabs(-std::log(static_cast<double>(probs[i])) - entropy);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return shift[a] < shift[b]; });
  double cum = 0;
  size_t n = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    cum += probs[order[i]];
    if (cum > p) {
      n = i + 1;
      break;
    }
  }
  std::vector<Candidate> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) kept.push_back(c[order[i]]);
  std::sort(kept.begin(), kept.end(), better);
  c = std::move(kept);
}

void temperature(std::vector<Candidate>& c, float t) {
  for (Candidate& x : c) x.logit /= t;
}

int32_t draw(const std::vector<Candidate>& c, std::mt19937_64& rng) {
  const std::vector<float> probs = softmax(c);
  // 53 random bits -> [0, 1): the same on every standard library.
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += probs[i];
    if (u < cum) return c[i].id;
  }
  return c.back().id;  // u above the rounded total
}

}  // namespace hearth::sampling
