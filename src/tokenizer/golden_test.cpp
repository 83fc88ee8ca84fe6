// The bundled model's vocabulary against llama-server's output for it
// (tests/data/golden/greedy.json): prompt ids with BOS, and the text of the
// generated ids as the server streamed it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

TEST(Golden, TinyKjvPromptsAndGeneratedText) {
  const std::string root = HEARTH_SOURCE_DIR;
  std::ifstream in(root + "/tests/data/golden/greedy.json");
  ASSERT_TRUE(in.good());
  const auto golden = nlohmann::json::parse(in);
  auto file = gguf::GgufFile::open(HEARTH_TINY_KJV);
  auto tok = Tokenizer::from_gguf(*file);
  size_t checked = 0;
  for (const auto& [type, cases] : golden.items()) {
    for (const auto& c : cases) {
      const std::string prompt = c.at("prompt");
      EXPECT_EQ(tok->encode(prompt, tok->add_bos_default(), false),
                c.at("prompt_tokens").get<std::vector<int32_t>>())
          << type << ": " << prompt;
      StreamDecoder dec(*tok);
      std::string text;
      for (const int32_t id : c.at("tokens").get<std::vector<int32_t>>()) text += dec.push(id);
      text += dec.flush();
      EXPECT_EQ(text, c.at("text").get<std::string>()) << type << ": " << prompt;
      ++checked;
    }
  }
  EXPECT_GT(checked, 5u);
}

}  // namespace
}  // namespace hearth::tokenizer
