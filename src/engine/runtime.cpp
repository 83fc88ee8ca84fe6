#include "engine/runtime.h"

#include <mutex>

#include "grammar/json_constraint.h"
#include "kernels/cpu_backend.h"

namespace hearth::engine {

struct Runtime::Lazy {
  std::mutex mu;
  std::shared_ptr<const grammar::VocabIndex> vocab_index;
};

std::shared_ptr<const grammar::VocabIndex> Runtime::vocab_index() const {
  std::lock_guard lk(lazy_->mu);
  if (!lazy_->vocab_index) lazy_->vocab_index = grammar::VocabIndex::build(*tokenizer);
  return lazy_->vocab_index;
}

Runtime Runtime::load(const std::string& path, std::optional<int> threads) {
  Runtime r;
  r.lazy_ = std::make_shared<Lazy>();
  r.pool = std::make_unique<threads::ThreadPool>(threads);
  r.backend = kernels::make_cpu_backend(*r.pool);
  r.model = model::Model::load(path, *r.backend);
  r.tokenizer = tokenizer::Tokenizer::from_gguf(r.model->file());
  r.path = path;
  try {
    r.chat_template = std::make_unique<chat::ChatTemplate>(
        chat::resolve_template("", r.model->file().get_string("tokenizer.chat_template")));
  } catch (const chat::TemplateError& e) {
    r.template_error = e.what();
  }
  return r;
}

std::vector<int32_t> Runtime::encode_prompt(const std::string& text) const {
  return tokenizer->encode(text, tokenizer->add_bos_default(), /*parse_special=*/false);
}

}  // namespace hearth::engine
