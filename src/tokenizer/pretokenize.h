// Pre-tokenizers of byte-level BPE vocabularies: the text is cut into words
// (by tokenizer.ggml.pre's list of regexes, applied one after another, each
// to the pieces the previous one left) before BPE merges within each word.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace hearth::tokenizer {

class PreTokenizer {
 public:
  // Throws std::runtime_error for a name hearth does not know.
  static PreTokenizer for_name(const std::string& name);

  const std::string& name() const { return name_; }
  // llama.cpp's per-pre-tokenizer flags.
  bool clean_spaces() const { return clean_spaces_; }
  bool ignore_merges() const { return ignore_merges_; }
  std::optional<bool> add_bos() const { return add_bos_; }

  // Splits `cps` into words; returns their lengths in code points.
  std::vector<size_t> split(std::span<const uint32_t> cps) const;

  // The names for_name accepts (for error messages and tests).
  static std::vector<std::string> known_names();

 private:
  enum class Custom { None, Gpt2, Llama3, Qwen2 };
  struct Step {
    Custom custom = Custom::None;
    std::shared_ptr<const Regex> regex;  // when custom == None
  };
  std::string name_;
  std::vector<Step> steps_;
  bool clean_spaces_ = true;
  bool ignore_merges_ = false;
  std::optional<bool> add_bos_;
};

}  // namespace hearth::tokenizer
