// Shared by the engine's tests: the bundled model, loaded once per test
// program, and greedy options (test code only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "engine/generation.h"
#include "engine/runtime.h"

namespace hearth::engine::test {

inline const std::string kTinyKjvPath = std::string(HEARTH_TINY_KJV);

// models/tiny-kjv-f16.gguf on 2 threads.
inline Runtime& tiny_kjv() {
  static Runtime rt = Runtime::load(kTinyKjvPath, 2);
  return rt;
}

// llama.cpp's greedy tokens for the bundled model (tests/data/golden/greedy.json).
inline nlohmann::json greedy_golden() {
  std::ifstream in(std::string(HEARTH_SOURCE_DIR) + "/tests/data/golden/greedy.json");
  return nlohmann::json::parse(in);
}

// The index of the largest logit (the first of equals).
inline int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Greedy, without repetition penalty: llama.cpp's greedy tokens.
inline GenerateOptions greedy(int64_t max_tokens) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampler.temperature = 0;
  o.sampler.repeat_penalty = 1;
  return o;
}

}  // namespace hearth::engine::test
