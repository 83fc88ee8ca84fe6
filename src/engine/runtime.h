// A model ready to use: the backend that computes it, its weights and its tokenizer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kernels/backend.h"
#include "model/model.h"
#include "threads/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace hearth::engine {

struct Runtime {
  // Members are destroyed bottom-up: the tokenizer and model before the
  // backend, the backend before the pool it computes on.
  std::unique_ptr<threads::ThreadPool> pool;
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;

  // Loads the GGUF file at `path` on the CPU backend with a pool of `threads`
  // threads (nullopt: one per physical core; otherwise 1 ..
  // threads::max_threads(), else std::invalid_argument naming the limit).
  // Throws with the file named on any other error.
  static Runtime load(const std::string& path, std::optional<int> threads);
  // Transitional, for callers that still spell "the default" as 0: 0 ->
  // nullopt, anything else is checked as above (so -1 is refused). New code
  // passes std::optional so that `-t 0` can be refused too.
  static Runtime load(const std::string& path, int threads) {
    return load(path, threads == 0 ? std::nullopt : std::optional<int>(threads));
  }

  // The text's tokens as the model expects a prompt: BOS first when the
  // vocabulary adds one, special-token syntax not parsed (user text).
  std::vector<int32_t> encode_prompt(const std::string& text) const;
  // Tokens of text hearth rendered itself (a chat template): special tokens
  // parsed, BOS prepended only when the rendering did not already start with it.
  std::vector<int32_t> encode_rendered(const std::string& text) const;
};

}  // namespace hearth::engine
