// A small backtracking regular-expression engine over code points, for the
// pre-tokenizer patterns of GGUF vocabularies.
//
// It reproduces what llama.cpp gets from std::regex (ECMAScript: leftmost
// match, alternatives tried in order, greedy quantifiers, atomic lookaheads)
// including its way with Unicode: when a pattern names a \p{..} class, every
// non-ASCII code point is reduced to its category before matching (so only
// \p classes, negations and \s can match it) and ASCII characters get
// llama.cpp's fixed ASCII class tables; in every pattern, non-ASCII
// whitespace matches as a vertical tab. Supported: | (?:) () (?=) (?!) [...]
// [^...] ranges, \s \S \d \D \w \W \b \p{L,N,P,S,M,Lu,Ll,Lt,Lm,Lo} . ^ $
// * + ? {n} {n,} {n,m} and lazy forms.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hearth::tokenizer {

struct RegexNode;

class Regex {
 public:
  // Throws std::runtime_error naming the pattern and the position of a fault.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(Regex&&) noexcept;

  // Splits each chunk of `cps` (lengths in code points, summing to
  // cps.size()) into matches and the stretches between them, as
  // llama.cpp's unicode_regex_split_stl does. Returns the new chunk lengths.
  std::vector<size_t> split(std::span<const uint32_t> cps, const std::vector<size_t>& chunks) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  bool collapsed_ = false;
  std::vector<std::unique_ptr<RegexNode>> nodes_;  // owns every node
  RegexNode* root_ = nullptr;
  // Code points that can begin a match (empty when a match can be empty,
  // then every position is tried): lets the search skip positions cheaply.
  std::vector<const RegexNode*> first_;
  bool first_known_ = false;
  friend class RegexParser;
};

}  // namespace hearth::tokenizer
