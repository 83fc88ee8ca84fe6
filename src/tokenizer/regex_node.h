// Internal to the regex engine (regex.cpp, regex_parse.cpp): the parsed
// pattern as a tree of nodes, and how a code point meets a class.
#pragma once

#include <cstdint>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

// Code points as the matcher sees them (see the header): in collapsed mode a
// non-ASCII non-space code point becomes kCategoryKey | its category bit.
inline constexpr uint32_t kCategoryKey = 0x200000;
inline constexpr uint32_t kVerticalTab = 0x0B;

inline bool ascii_space(uint32_t k) { return k == ' ' || (k >= 0x09 && k <= 0x0D); }
inline bool ascii_digit(uint32_t k) { return k >= '0' && k <= '9'; }
inline bool ascii_word(uint32_t k) {
  return ascii_digit(k) || (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z') || k == '_';
}

// llama.cpp's ASCII members of each class in collapsed patterns.
inline bool ascii_in_category(uint32_t k, uint16_t cat) {
  switch (cat) {
    case unicode::kNumber:
      return ascii_digit(k);
    case unicode::kLetter:
      return (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z');
    case unicode::kPunctuation:
      return (k >= 0x21 && k <= 0x23) || (k >= 0x25 && k <= 0x2A) || (k >= 0x2C && k <= 0x2F) ||
             k == 0x3A || k == 0x3B || k == 0x3F || k == 0x40 || (k >= 0x5B && k <= 0x5D) ||
             k == 0x5F || k == 0x7B || k == 0x7D;
    case unicode::kSymbol:
      return k == 0x24 || k == 0x2B || (k >= 0x3C && k <= 0x3E) || k == 0x5E || k == 0x60 ||
             k == 0x7C;
    default:  // \p{M}: no ASCII members
      return false;
  }
}

struct ClassItem {
  enum Type { Range, Space, NotSpace, Digit, NotDigit, Word, NotWord, Category };
  Type type = Range;
  uint32_t lo = 0, hi = 0;
  uint16_t cat = 0;

  bool matches(uint32_t k) const {
    switch (type) {
      case Range:
        return k >= lo && k <= hi;
      case Space:
        return ascii_space(k);
      case NotSpace:
        return !ascii_space(k);
      case Digit:
        return ascii_digit(k);
      case NotDigit:
        return !ascii_digit(k);
      case Word:
        return ascii_word(k);
      case NotWord:
        return !ascii_word(k);
      case Category:
        return k >= kCategoryKey ? (k & 0xFF) == cat : ascii_in_category(k, cat);
    }
    return false;
  }
};

struct RegexNode {
  enum Kind { Class, Seq, Alt, Repeat, Look, Bol, Eol, WordBoundary, NotWordBoundary };
  Kind kind = Seq;
  std::vector<RegexNode*> kids;
  std::vector<ClassItem> items;  // Class
  bool negate = false;           // Class: [^..]; Look: (?!..)
  bool dot = false;              // Class: '.'
  int min = 0, max = -1;         // Repeat; max -1 = unbounded
  bool greedy = true;
  bool single = false;  // consumes exactly one code point, decided by that one alone

  // Class membership, precomputed for ASCII keys and for category keys
  // (see prepare()); other code points scan the items.
  uint64_t ascii[2] = {0, 0};
  uint8_t categories = 0;  // bit i: matches kCategoryKey | (1 << i)

  bool class_matches_slow(uint32_t k) const {
    if (dot) return k != '\n' && k != '\r';
    bool in = false;
    for (const auto& it : items) {
      if (it.matches(k)) {
        in = true;
        break;
      }
    }
    return in != negate;
  }

  void prepare() {
    for (uint32_t k = 0; k < 128; ++k)
      if (class_matches_slow(k)) ascii[k >> 6] |= uint64_t{1} << (k & 63);
    for (uint32_t i = 0; i < 8; ++i)
      if (class_matches_slow(kCategoryKey | (1u << i))) categories |= static_cast<uint8_t>(1u << i);
  }

  bool class_matches(uint32_t k) const {
    if (k < 128) return (ascii[k >> 6] >> (k & 63)) & 1;
    if (k >= kCategoryKey) return (categories & k) != 0;
    return class_matches_slow(k);
  }
};

// Parses re.pattern() into nodes owned by `re`; returns the root. Throws
// std::runtime_error naming the pattern and the position.
RegexNode* parse_regex(Regex& re);

}  // namespace hearth::tokenizer
