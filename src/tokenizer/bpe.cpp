// Byte-level BPE (GPT-2 style) as llama.cpp runs it: the pre-tokenizer cuts
// the text into words; each word's bytes become GPT-2 byte characters; the
// adjacent pair with the lowest merge rank (leftmost on ties) is merged until
// no pair has a rank. Symbols are interned ids (vocab.h), so merging compares
// integers instead of building strings.
#include <algorithm>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

namespace {

struct Symbol {
  int32_t sym;     // interned symbol id, -1 if the character is in no token or merge
  uint32_t start;  // byte offset in the word
  uint32_t n;      // bytes of the word covered; 0 once merged away
  int32_t prev, next;
};

struct Bigram {
  int32_t rank;
  int32_t left, right;
  int32_t lsym, rsym, result;
};

struct BigramOrder {  // a max-heap of this order pops the lowest rank, then leftmost
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class BpeWords {
 public:
  BpeWords(const Vocab& v, std::vector<int32_t>& out) : v_(v), out_(out) {}

  void word(std::string_view w) {
    if (w.empty()) return;
    if (v_.ignore_merges) {
      std::string enc;
      for (const char c : w) enc += unicode::byte_to_gpt2(static_cast<uint8_t>(c));
      const int32_t id = v_.index.find(enc);
      if (id >= 0) {
        out_.push_back(id);
        return;
      }
    }
    syms_.clear();
    heap_.clear();
    const int32_t n = static_cast<int32_t>(w.size());
    for (int32_t i = 0; i < n; ++i) {
      syms_.push_back(Symbol{v_.byte_symbol[static_cast<uint8_t>(w[i])], static_cast<uint32_t>(i),
                             1, i - 1, i + 1 < n ? i + 1 : -1});
    }
    for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), BigramOrder{});
      const Bigram b = heap_.back();
      heap_.pop_back();
      Symbol& l = syms_[b.left];
      Symbol& r = syms_[b.right];
      if (l.n == 0 || r.n == 0 || l.next != b.right || l.sym != b.lsym || r.sym != b.rsym) {
        continue;  // stale: one side has changed since this pair was queued
      }
      l.n += r.n;
      l.sym = b.result;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
    for (int32_t i = 0; i != -1; i = syms_[i].next) {
      const Symbol& s = syms_[i];
      if (s.sym >= 0 && s.sym < v_.n()) {
        out_.push_back(s.sym);
        continue;
      }
      // Not a token: one token per byte where the byte's character is one.
      for (uint32_t j = 0; j < s.n; ++j) {
        const int32_t id = v_.byte_piece[static_cast<uint8_t>(w[s.start + j])];
        if (id >= 0) out_.push_back(id);
      }
    }
  }

 private:
  void try_add(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms_[left];
    const Symbol& r = syms_[right];
    const MergeTable::Entry* e = v_.merges.find(l.sym, r.sym);
    if (!e) return;
    heap_.push_back(Bigram{e->rank, left, right, l.sym, r.sym, e->result});
    std::push_heap(heap_.begin(), heap_.end(), BigramOrder{});
  }

  const Vocab& v_;
  std::vector<int32_t>& out_;
  std::vector<Symbol> syms_;
  std::vector<Bigram> heap_;
};

}  // namespace

void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  if (text.empty()) return;
  // Work on the text as code points (invalid bytes become U+FFFD, as in
  // llama.cpp) and on its UTF-8 re-encoding, whose bytes BPE merges.
  const std::vector<uint32_t> cps = unicode::decode(text);
  std::string clean;
  clean.reserve(text.size() + 16);
  std::vector<uint32_t> byte_at(cps.size() + 1);
  for (size_t i = 0; i < cps.size(); ++i) {
    byte_at[i] = static_cast<uint32_t>(clean.size());
    unicode::append_utf8(clean, cps[i]);
  }
  byte_at[cps.size()] = static_cast<uint32_t>(clean.size());
  const std::vector<size_t> words = v.pretokenizer->split(cps);
  BpeWords bpe(v, out);
  // Words repeat (" the", " and"): remember where a short word's ids went in
  // `out` and copy them instead of merging again. Keys point into `clean`.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> seen;
  constexpr size_t kMaxCached = 24;
  size_t cp = 0;
  for (const size_t len : words) {
    const uint32_t b0 = byte_at[cp];
    const uint32_t b1 = byte_at[cp + len];
    cp += len;
    const std::string_view w = std::string_view(clean).substr(b0, b1 - b0);
    if (w.size() > kMaxCached) {
      bpe.word(w);
      continue;
    }
    const auto [it, fresh] = seen.try_emplace(w, out.size(), 0);
    if (!fresh) {
      const auto [from, n] = it->second;
      for (size_t i = 0; i < n; ++i) {
        const int32_t id = out[from + i];  // copy: push_back may reallocate
        out.push_back(id);
      }
      continue;
    }
    bpe.word(w);
    it->second.second = out.size() - it->second.first;
  }
}

}  // namespace hearth::tokenizer
