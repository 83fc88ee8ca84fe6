#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <memory>

namespace hearth::tokenizer::unicode {

uint32_t decode_one(std::string_view s, size_t& offset) {
  const auto at = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (at(i) & 0xC0) == 0x80; };
  const uint8_t c = at(offset);
  uint32_t cp = kReplacement;
  size_t n = 1;
  if (c < 0x80) {
    cp = c;
  } else if ((c & 0xE0) == 0xC0) {
    if (cont(offset + 1)) {
      cp = ((c & 0x1Fu) << 6) | (at(offset + 1) & 0x3Fu);
      n = 2;
    }
  } else if ((c & 0xF0) == 0xE0) {
    if (cont(offset + 1) && cont(offset + 2)) {
      cp = ((c & 0x0Fu) << 12) | ((at(offset + 1) & 0x3Fu) << 6) | (at(offset + 2) & 0x3Fu);
      n = 3;
    }
  } else if ((c & 0xF8) == 0xF0) {
    if (cont(offset + 1) && cont(offset + 2) && cont(offset + 3)) {
      cp = ((c & 0x07u) << 18) | ((at(offset + 1) & 0x3Fu) << 12) |
           ((at(offset + 2) & 0x3Fu) << 6) | (at(offset + 3) & 0x3Fu);
      n = 4;
      // Past U+10FFFF cannot be re-encoded; llama.cpp would fail here.
      if (cp > kMaxCodePoint) cp = kReplacement;
    }
  }
  offset += n;
  return cp;
}

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_one(s, i));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp <= 0x7F) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

namespace {

uint16_t category_flag(utf8proc_category_t cat) {
  switch (cat) {
    case UTF8PROC_CATEGORY_CN:
      return kUndefined;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return kPunctuation;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return kSymbol;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSeparator;
    default:  // Cc, Cf, Cs, Co
      return kControl;
  }
}

// One entry per code point, built once (2.2 MB): the pre-tokenizers ask for
// every character of the text, so a table beats utf8proc's two-level lookup.
std::unique_ptr<uint16_t[]> build_table() {
  auto t = std::make_unique<uint16_t[]>(kMaxCodePoint + 1);
  for (uint32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    uint16_t f = category_flag(cat);
    if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ||
        (cp >= 0x09 && cp <= 0x0D) || cp == 0x85) {
      f |= kWhitespace;
    }
    t[cp] = f;
  }
  return t;
}

struct Gpt2Bytes {
  std::array<std::string, 256> to_cp;
  std::array<int16_t, 512> from_cp;  // every mapped code point is < 0x144
  Gpt2Bytes() {
    from_cp.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      to_cp[b] = to_utf8(cp);
      from_cp[cp] = static_cast<int16_t>(b);
    }
  }
};

const Gpt2Bytes& gpt2_bytes() {
  static const Gpt2Bytes g;
  return g;
}

}  // namespace

uint16_t flags(uint32_t cp) {
  static const std::unique_ptr<uint16_t[]> table = build_table();
  return cp <= kMaxCodePoint ? table[cp] : 0;
}

uint32_t to_lower(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

const std::string& byte_to_gpt2(uint8_t b) { return gpt2_bytes().to_cp[b]; }

int gpt2_to_byte(uint32_t cp) { return cp < 512 ? gpt2_bytes().from_cp[cp] : -1; }

size_t incomplete_utf8_tail(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
    if (c < 0xC0) return 0;            // ASCII: complete
    const size_t need = utf8_len(c);
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace hearth::tokenizer::unicode
