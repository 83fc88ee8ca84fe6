// Shared by the engine's tests: the bundled model, loaded once per test
// program, and greedy options (test code only).
#pragma once

#include <string>

#include "engine/generation.h"
#include "engine/runtime.h"

namespace hearth::engine::test {

// models/tiny-kjv-f16.gguf on 2 threads.
inline Runtime& tiny_kjv() {
  static Runtime rt =
      Runtime::load(std::string(HEARTH_SOURCE_DIR) + "/models/tiny-kjv-f16.gguf", 2);
  return rt;
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
