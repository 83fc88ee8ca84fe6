#include "engine/runtime.h"

#include "kernels/cpu_backend.h"

namespace hearth::engine {

Runtime Runtime::load(const std::string& path, std::optional<int> threads) {
  Runtime r;
  r.pool = std::make_unique<threads::ThreadPool>(threads);
  r.backend = kernels::make_cpu_backend(*r.pool);
  r.model = model::Model::load(path, *r.backend);
  r.tokenizer = tokenizer::Tokenizer::from_gguf(r.model->file());
  return r;
}

std::vector<int32_t> Runtime::encode_prompt(const std::string& text) const {
  return tokenizer->encode(text, tokenizer->add_bos_default(), /*parse_special=*/false);
}

std::vector<int32_t> Runtime::encode_rendered(const std::string& text) const {
  std::vector<int32_t> ids = tokenizer->encode(text, /*add_bos=*/false, /*parse_special=*/true);
  const int32_t bos = tokenizer->bos();
  if (tokenizer->add_bos_default() && bos >= 0 && (ids.empty() || ids[0] != bos))
    ids.insert(ids.begin(), bos);
  return ids;
}

}  // namespace hearth::engine
