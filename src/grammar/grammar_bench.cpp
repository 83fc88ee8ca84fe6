// What constrained output costs per generated token: building the vocabulary
// index (once per tokenizer) and masking the logits in the common states of
// a JSON-schema document, over the real test vocabularies (SPM llama with
// 32000 pieces, byte-level BPE GPT-2 with 50257).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "grammar/json_constraint.h"
#include "grammar/person_schema_test.h"
#include "tokenizer/tokenizer.h"

namespace {

using hearth::grammar::TokenConstraint;
using hearth::grammar::VocabIndex;

const char* const kVocabs[] = {"llama-spm", "gpt-2"};

std::unique_ptr<hearth::tokenizer::Tokenizer> tokenizer(const std::string& name) {
  const auto file = hearth::gguf::GgufFile::open(std::string(HEARTH_SOURCE_DIR) +
                                                 "/tests/data/vocab/ggml-vocab-" + name + ".gguf");
  return hearth::tokenizer::Tokenizer::from_gguf(*file);
}

const auto& kPerson = hearth::grammar::test::person_schema();

// The text generated so far in each state the mask is measured in.
const char* const kStates[] = {"", "{\"na", "{\"name\":\"Al", "{\"name\":\"Al\",\"age\":1",
                               "{\"name\":\"Al\",\"age\":12"};

void BM_VocabIndexBuild(benchmark::State& state) {
  const auto tok = tokenizer(kVocabs[state.range(0)]);
  for (auto _ : state) benchmark::DoNotOptimize(VocabIndex::build(*tok));
  state.SetLabel(kVocabs[state.range(0)]);
}
BENCHMARK(BM_VocabIndexBuild)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Args: vocabulary, state (kStates).
void BM_Mask(benchmark::State& state) {
  const auto tok = tokenizer(kVocabs[state.range(0)]);
  const auto index = VocabIndex::build(*tok);
  auto c = TokenConstraint::json_ordered(kPerson, index);
  for (const int32_t id : tok->encode(kStates[state.range(1)], false, false)) c->accept(id);
  std::vector<float> logits(static_cast<size_t>(index->n_vocab));
  for (auto _ : state) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    c->mask(logits);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetLabel(std::string(kVocabs[state.range(0)]) + " after '" + kStates[state.range(1)] + "'");
}
BENCHMARK(BM_Mask)->ArgsProduct({{0, 1}, {0, 1, 2, 3, 4}})->Unit(benchmark::kMillisecond);

}  // namespace
