// Answers to deterministic requests, kept to be replayed: a request with
// temperature 0 (greedy), or with a fixed seed and everything else equal,
// gets the same tokens every time, so a repeat need not run the model.
// Least recently used entries give way when the cache exceeds its byte bound.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/generation.h"

namespace hearth::engine {

struct CachedResponse {
  std::vector<std::string> pieces;   // the streamed text, piece by piece
  std::vector<size_t> piece_tokens;  // per piece: tokens generated when it came out
  GenerateResult result;             // tokens, text, done_reason, timings of the original run
  uint64_t bytes() const;
};

class ResponseCache {
 public:
  explicit ResponseCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Whether a request with these sampling settings is deterministic (cacheable).
  static bool deterministic(const sampling::SamplerParams& p);

  std::optional<CachedResponse> get(const std::string& key);
  void put(const std::string& key, CachedResponse value);  // ignored when larger than the bound
  uint64_t bytes() const;
  size_t size() const;
  uint64_t hits() const { return hits_; }

 private:
  using Entry = std::pair<std::string, CachedResponse>;
  uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t bytes_ = 0, hits_ = 0;
};

}  // namespace hearth::engine
