// Code points and their Unicode classes as the tokenizers need them.
//
// Decoding follows llama.cpp's lenient rules (the results must match its
// tokens): a lead byte gives the length, continuation bytes are checked, an
// invalid sequence becomes U+FFFD and consumes one byte. Overlong forms and
// surrogates are not rejected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer::unicode {

// Classes of one code point: exactly one category bit, plus kWhitespace.
enum Flags : uint16_t {
  kUndefined = 0x0001,    // unassigned (Cn)
  kNumber = 0x0002,       // \p{N}
  kLetter = 0x0004,       // \p{L}
  kSeparator = 0x0008,    // \p{Z}
  kMark = 0x0010,         // \p{M}
  kPunctuation = 0x0020,  // \p{P}
  kSymbol = 0x0040,       // \p{S}
  kControl = 0x0080,      // \p{C} other than Cn
  kCategoryMask = 0x00FF,
  kWhitespace = 0x0100,  // the White_Space property (Z* and 9-13, 0x85)
};

constexpr uint32_t kReplacement = 0xFFFD;
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Bytes a UTF-8 sequence claims from its lead byte (1 for stray bytes).
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes one code point at `offset` and advances it.
uint32_t decode_one(std::string_view s, size_t& offset);
std::vector<uint32_t> decode(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);
std::string to_utf8(uint32_t cp);

// Category and whitespace bits (utf8proc's tables); 0 past U+10FFFF.
uint16_t flags(uint32_t cp);
inline bool is_whitespace(uint32_t cp) { return flags(cp) & kWhitespace; }
inline bool is_letter(uint32_t cp) { return flags(cp) & kLetter; }
inline bool is_number(uint32_t cp) { return flags(cp) & kNumber; }
uint32_t to_lower(uint32_t cp);

// GPT-2's reversible map of the 256 byte values onto printable code points.
const std::string& byte_to_gpt2(uint8_t b);  // UTF-8 of the code point
int gpt2_to_byte(uint32_t cp);               // -1 if cp is not one of the 256

// Number of bytes at the end of `s` that form an incomplete (but so far
// valid-looking) UTF-8 sequence: what a streaming decoder must hold back.
size_t incomplete_utf8_tail(std::string_view s);

}  // namespace hearth::tokenizer::unicode
