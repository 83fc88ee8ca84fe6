// Cutting text at special tokens before the tokenizer proper sees it.
//
// As llama.cpp does: every special token in turn, longest text first, is
// looked for in every piece of still-raw text; each occurrence becomes its
// own fragment. Without parse_special only user-defined tokens are matched
// (control and unknown tokens in user text stay text).
#include <cctype>

#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

std::vector<Fragment> partition_special(const Vocab& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back(Fragment{-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : v.special) {
    if (!parse_special && (v.attr[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& tok = v.text[id];
    bool any = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0) continue;
      if (std::string_view(text.data() + f.offset, f.length).find(tok) != std::string_view::npos) {
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
        const size_t hit = std::string_view(text.data(), end).find(tok, off);
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
