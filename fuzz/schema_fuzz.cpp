// libFuzzer target: arbitrary bytes as a JSON schema for TokenConstraint over
// the SPM test vocabulary (tests/data/vocab/ggml-vocab-llama-spm.gguf). Input
// that is not JSON is ignored. Schemas hearth refuses must throw SchemaError
// (any other exception is a finding); accepted ones get a short random walk
// through the mask (seeded by the input), which checks what
// json_constraint.h promises:
//  - some token is always allowed (no dead ends);
//  - an EOG token is allowed exactly when complete() says so;
//  - accept() takes every token the mask allows;
//  - a complete document parses as JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/reader.h"
#include "grammar/json_constraint.h"
#include "tokenizer/tokenizer.h"

namespace {

using hearth::grammar::SchemaError;
using hearth::grammar::TokenConstraint;
using hearth::grammar::VocabIndex;

struct Loaded {
  std::unique_ptr<hearth::gguf::GgufFile> file;
  std::unique_ptr<hearth::tokenizer::Tokenizer> tok;
  std::shared_ptr<const VocabIndex> index;
};

const Loaded& spm() {
  static const Loaded l = [] {
    Loaded v;
    v.file = hearth::gguf::GgufFile::open(std::string(HEARTH_SOURCE_DIR) +
                                          "/tests/data/vocab/ggml-vocab-llama-spm.gguf");
    v.tok = hearth::tokenizer::Tokenizer::from_gguf(*v.file);
    v.index = VocabIndex::build(*v.tok);
    return v;
  }();
  return l;
}

[[noreturn]] void finding(const char* what, const std::string& text) {
  std::fprintf(stderr, "schema_fuzz: %s\n  text so far: '%s'\n", what, text.c_str());
  __builtin_trap();
}

constexpr int kSteps = 6;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spm();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto schema = nlohmann::ordered_json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return 0;
  const Loaded& l = spm();
  std::unique_ptr<TokenConstraint> c;
  try {
    c = TokenConstraint::json_ordered(schema, l.index);
  } catch (const SchemaError&) {
    return 0;
  }
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string_view>{}(input)));
  std::vector<bool> allowed;
  std::string text;
  for (int step = 0; step < kSteps; ++step) {
    c->allowed(allowed);
    std::vector<int32_t> ids;
    bool eog = false;
    for (int32_t id = 0; id < l.index->n_vocab; ++id) {
      if (!allowed[id]) continue;
      if (l.tok->is_eog(id)) {
        eog = true;
      } else {
        ids.push_back(id);
      }
    }
    if (eog != c->complete()) finding("EOG allowed != complete()", text);
    if (ids.empty()) {
      if (!eog) finding("no token allowed", text);
      break;
    }
    // Prefer short pieces half of the time: they reach more states quickly.
    int32_t id = ids[rng() % ids.size()];
    if (rng() % 2) {
      for (int k = 0; k < 4; ++k) {
        const int32_t other = ids[rng() % ids.size()];
        if (l.tok->piece(other).size() < l.tok->piece(id).size()) id = other;
      }
    }
    c->accept(id);  // throws (a finding) if the mask lied
    text += l.tok->piece(id);
  }
  if (c->complete() && nlohmann::json::parse(text, nullptr, false).is_discarded())
    finding("complete document does not parse", text);
  return 0;
}
