#include "engine/response_cache.h"

namespace hearth::engine {

uint64_t CachedResponse::bytes() const {
  uint64_t b = sizeof(CachedResponse) + result.text.size() + result.tokens.size() * 4;
  for (const auto& p : pieces) b += p.size() + sizeof(std::string);
  b += piece_tokens.size() * sizeof(size_t) + result.logprobs.size() * sizeof(float);
  for (const auto& t : result.top) b += t.size() * sizeof(TokenProb);
  return b;
}

bool ResponseCache::deterministic(const sampling::SamplerParams& p) {
  return p.temperature <= 0 || p.seed != sampling::SamplerParams::kRandomSeed;
}

std::optional<CachedResponse> ResponseCache::get(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return it->second->second;
}

void ResponseCache::put(const std::string& key, CachedResponse value) {
  const uint64_t b = value.bytes() + key.size();
  if (b > max_bytes_) return;
  std::lock_guard lk(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->second.bytes() + key.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.emplace_front(key, std::move(value));
  index_[key] = lru_.begin();
  bytes_ += b;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    auto& last = lru_.back();
    bytes_ -= last.second.bytes() + last.first.size();
    index_.erase(last.first);
    lru_.pop_back();
  }
}

uint64_t ResponseCache::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

size_t ResponseCache::size() const {
  std::lock_guard lk(mu_);
  return lru_.size();
}

}  // namespace hearth::engine
