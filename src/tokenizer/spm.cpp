// SentencePiece BPE as llama.cpp runs it: start from UTF-8 characters, and
// repeatedly merge the adjacent pair whose concatenation is the vocabulary
// token with the highest score (leftmost on ties); characters no token
// covers fall back to <0xNN> byte tokens.
//
// Speed: the text is first cut where two neighbouring characters never
// appear next to each other inside any token. No merge can cross such a cut,
// so each run is merged alone with the same result, and the priority queue
// stays small.
#include <algorithm>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

namespace {

struct SpmSymbol {
  uint32_t start;  // byte offset in the text
  uint32_t n;      // bytes; 0 once merged into its left neighbour
  int32_t prev, next;
};

struct SpmBigram {
  float score;
  int32_t left, right;
  uint32_t size;
};

struct SpmBigramOrder {
  bool operator()(const SpmBigram& a, const SpmBigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmRun {
 public:
  SpmRun(const Vocab& v, std::string_view text, std::vector<int32_t>& out)
      : v_(v), text_(text), out_(out) {}

  // Tokenizes one run of characters (syms, linked in order) into out_.
  void run(std::vector<SpmSymbol>& syms, std::vector<SpmBigram>& heap_storage) {
    syms_ = &syms;
    heap_ = &heap_storage;
    heap_->clear();
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);
    while (!heap_->empty()) {
      std::pop_heap(heap_->begin(), heap_->end(), SpmBigramOrder{});
      const SpmBigram b = heap_->back();
      heap_->pop_back();
      SpmSymbol& l = syms[b.left];
      SpmSymbol& r = syms[b.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
    for (int32_t i = 0; i != -1; i = syms[i].next) emit(syms[i]);
  }

 private:
  void try_add(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const SpmSymbol& l = (*syms_)[left];
    const SpmSymbol& r = (*syms_)[right];
    const int32_t id = v_.index.find(text_.substr(l.start, l.n + r.n));
    if (id < 0) return;
    heap_->push_back(SpmBigram{v_.score[id], left, right, l.n + r.n});
    std::push_heap(heap_->begin(), heap_->end(), SpmBigramOrder{});
  }

  void emit(const SpmSymbol& s) {
    const std::string_view piece = text_.substr(s.start, s.n);
    const int32_t id = v_.index.find(piece);
    if (id >= 0) {
      out_.push_back(id);
      return;
    }
    for (const char c : piece) {
      const int32_t b = v_.byte_token[static_cast<uint8_t>(c)];
      if (b >= 0) {
        out_.push_back(b);
      } else if (v_.unk >= 0) {
        out_.push_back(v_.unk);  // llama.cpp would fail; a vocabulary without byte tokens
      }
    }
  }

  const Vocab& v_;
  std::string_view text_;
  std::vector<int32_t>& out_;
  std::vector<SpmSymbol>* syms_ = nullptr;
  std::vector<SpmBigram>* heap_ = nullptr;  // a max-heap under SpmBigramOrder
};

}  // namespace

void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out, bool whole) {
  if (text.empty()) return;
  SpmRun runner(v, text, out);
  std::vector<SpmSymbol> syms;
  std::vector<SpmBigram> heap_storage;
  // Runs repeat ("▁the"): remember where a short run's ids went in `out`.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> seen;
  constexpr size_t kMaxCached = 32;
  auto flush = [&] {
    syms.back().next = -1;
    const size_t b0 = syms.front().start;
    const size_t b1 = syms.back().start + syms.back().n;
    const std::string_view run = text.substr(b0, b1 - b0);
    if (whole || run.size() > kMaxCached) {
      runner.run(syms, heap_storage);
    } else {
      const auto [it, fresh] = seen.try_emplace(run, out.size(), 0);
      if (fresh) {
        runner.run(syms, heap_storage);
        it->second.second = out.size() - it->second.first;
      } else {
        const auto [from, n] = it->second;
        for (size_t i = 0; i < n; ++i) {
          const int32_t id = out[from + i];  // copy: push_back may reallocate
          out.push_back(id);
        }
      }
    }
    syms.clear();
  };
  uint32_t prev_key = 0;
  size_t off = 0;
  while (off < text.size()) {
    const size_t n =
        std::min(unicode::utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    const uint32_t key = pack_symbol(text.data() + off, n);
    if (!whole && !syms.empty() &&
        !v.spm_pairs.contains((static_cast<uint64_t>(prev_key) << 32) | key)) {
      syms.back().next = -1;
      runner.run(syms, heap_storage);
      syms.clear();
    }
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back(
        SpmSymbol{static_cast<uint32_t>(off), static_cast<uint32_t>(n), idx - 1, idx + 1});
    prev_key = key;
    off += n;
  }
  flush();
}

}  // namespace hearth::tokenizer
