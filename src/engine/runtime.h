// A model ready to use: the backend that computes it, its weights and its tokenizer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "chat/chat_template.h"
#include "model/model.h"
#include "threads/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace hearth::grammar {
class VocabIndex;
}

namespace hearth::engine {

struct Runtime {
  // Members are destroyed bottom-up: the tokenizer and model before the
  // backend, the backend before the pool it computes on.
  std::unique_ptr<threads::ThreadPool> pool;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  // The model's chat template (tokenizer.chat_template), ChatML when it has
  // none; null with `template_error` set when the model's does not parse (raw
  // completions still work).
  std::unique_ptr<chat::ChatTemplate> chat_template;
  std::string template_error;
  std::string path;  // the GGUF file

  // The vocabulary indexed for output constraints (src/grammar), built on
  // first use (tens of ms) and shared by every request. Thread-safe.
  std::shared_ptr<const grammar::VocabIndex> vocab_index() const;

  // Loads the GGUF file at `path` on the CPU backend with a pool of `threads`
  // threads (nullopt: one per physical core; otherwise 1 ..
  // threads::max_threads(), else std::invalid_argument naming the limit).
  // Throws with the file named on any other error.
  static Runtime load(const std::string& path, std::optional<int> threads);
  // Transitional, for callers that still spell "the default" as 0: 0 ->
  // nullopt, anything else is checked as above (so -1 is refused). New code
  // passes std::optional so that `-t 0` can be refused too.

  // The text's tokens as the model expects a prompt: BOS first when the
  // vocabulary adds one, special-token syntax not parsed (user text).
  std::vector<int32_t> encode_prompt(const std::string& text) const;

 private:
  struct Lazy;
  std::shared_ptr<Lazy> lazy_;
};

}  // namespace hearth::engine
