// Cutting text at special tokens before the tokenizer proper sees it.
//
// As llama.cpp does: every special token in turn, longest text first, is
// looked for in every piece of still-raw text; each occurrence becomes its
// own fragment. Without parse_special only user-defined tokens are matched
// (control and unknown tokens in user text stay text).
#include <string.h>

#include <cctype>
#include <cstdint>

#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

namespace {

// The first occurrence of `tok` in text[from, to), or npos. glibc's memmem
// (two-way search) beats string_view::find on needles like "    " whose first
// byte is everywhere.
size_t search(std::string_view text, size_t from, size_t to, const std::string& tok) {
  const void* hit = memmem(text.data() + from, to - from, tok.data(), tok.size());
  return hit ? static_cast<size_t>(static_cast<const char*>(hit) - text.data())
             : std::string_view::npos;
}

}  // namespace

std::vector<Fragment> partition_special(const Vocab& v, std::string_view text, bool parse_special,
                                        std::span<const std::pair<size_t, size_t>> literal) {
  // A control token inside a literal range is text: users cannot type markup.
  auto in_literal = [&](int32_t id, size_t at, size_t len) {
    if (!(v.attr[id] & (kAttrControl | kAttrUnknown))) return false;
    for (const auto& [b, e] : literal)
      if (at < e && at + len > b) return true;
    return false;
  };
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back(Fragment{-1, 0, text.size()});
  // Vocabularies can have thousands of user-defined tokens (DeepSeek: 2,398);
  // searching long text for each is slow. A token can only occur if each of
  // its adjacent byte pairs occurs in the text: one pass records the pairs.
  std::vector<uint64_t> pairs;
  if (text.size() > 4096 && v.special.size() > 16) {
    pairs.assign(65536 / 64, 0);
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      const unsigned p = (static_cast<uint8_t>(text[i]) << 8) | static_cast<uint8_t>(text[i + 1]);
      pairs[p >> 6] |= uint64_t{1} << (p & 63);
    }
  }
  auto may_occur = [&](const std::string& tok) {
    if (pairs.empty()) return true;
    for (size_t i = 0; i + 1 < tok.size(); ++i) {
      const unsigned p = (static_cast<uint8_t>(tok[i]) << 8) | static_cast<uint8_t>(tok[i + 1]);
      if (!((pairs[p >> 6] >> (p & 63)) & 1)) return false;
    }
    return true;
  };
  std::vector<Fragment> next;
  for (const int32_t id : v.special) {
    if (!parse_special && (v.attr[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& tok = v.text[id];
    if (!may_occur(tok)) continue;
    bool any = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0) continue;
      if (search(text, f.offset, f.offset + f.length, tok) != std::string_view::npos) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset;
      size_t end = f.offset + f.length;
      while (off < end) {
        size_t hit = search(text, off, end, tok);
        while (hit != std::string_view::npos && in_literal(id, hit, tok.size()))
          hit = search(text, hit + 1, end, tok);
        if (hit == std::string_view::npos) break;
        if (hit > off) next.push_back(Fragment{-1, off, hit - off});
        next.push_back(Fragment{id, hit, tok.size()});
        off = hit + tok.size();
        if (v.rstrip[id]) {
          while (off < end && std::isspace(static_cast<unsigned char>(text[off]))) ++off;
        }
      }
      if (off < end) next.push_back(Fragment{-1, off, end - off});
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace hearth::tokenizer
