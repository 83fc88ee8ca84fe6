// The tables a Tokenizer works from, read from tokenizer.ggml.* (vocab.cpp).
// Internal to src/tokenizer.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gguf/reader.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {

// Token attributes as llama.cpp keeps them: a bit set, because a token read
// as NORMAL can be promoted to CONTROL when its text says it ends a turn.
enum Attr : uint8_t {
  kAttrUnknown = 1,
  kAttrUnused = 2,
  kAttrNormal = 4,
  kAttrControl = 8,
  kAttrUserDefined = 16,
  kAttrByte = 32,
};

// Open-addressing map from strings (held elsewhere, by id) to ids. Lookups
// take a string_view, so the tokenizers never build strings to ask.
class StringIndex {
 public:
  void build(const std::vector<std::string>& strings);  // later duplicates win
  int32_t find(std::string_view s) const;               // -1 when absent

 private:
  const std::vector<std::string>* strings_ = nullptr;
  std::vector<int32_t> slots_;  // -1 = empty
  size_t mask_ = 0;
};

// Packs one UTF-8 symbol (<= 4 bytes) into 32 bits.
inline uint32_t pack_symbol(const char* p, size_t n) {
  uint32_t v = 0;
  std::memcpy(&v, p, n < 4 ? n : 4);
  return v;
}

// A set of 64-bit keys (open addressing; ~0 is reserved).
class KeySet {
 public:
  void build(std::vector<uint64_t> keys);
  bool contains(uint64_t k) const;

 private:
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
};

// (left symbol, right symbol) -> (merge rank, merged symbol), for BPE.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = ~uint64_t{0};
    int32_t rank = 0;
    int32_t result = 0;
  };
  void reserve(size_t n);
  void insert(int32_t left, int32_t right, int32_t rank, int32_t result);  // first insert wins
  const Entry* find(int32_t left, int32_t right) const;

 private:
  static uint64_t key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

struct Vocab {
  std::string file;   // for error messages
  std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
  bool spm = true;    // model == "llama"
  std::string pre = "default";

  std::vector<std::string> text;  // id -> vocabulary string
  std::vector<float> score;       // id -> SPM merge score
  std::vector<TokenType> type;    // id -> type (after llama.cpp's fix-ups)
  std::vector<uint8_t> attr;      // id -> Attr bits
  StringIndex index;              // text -> id

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  // Fill-in-the-middle: the prefix, suffix and middle markers (-1 if none).
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1;
  std::set<int32_t> eog;
  bool add_bos = false, add_eos = false, add_space_prefix = false, clean_spaces = false;
  bool ignore_merges = false;

  // Control, user-defined and unknown tokens, longest text first.
  std::vector<int32_t> special;
  // Tokens whose following whitespace is dropped when parsed as special (Phi-3).
  std::vector<uint8_t> rstrip;
  // id -> decoded bytes (special tokens rendered); see Tokenizer::piece.
  std::vector<std::string> pieces;

  // SPM: byte -> id of <0xNN> (or of the one-byte token), -1 if none.
  int32_t byte_token[256];
  // SPM: adjacent UTF-8 symbol pairs that occur inside some token; text is
  // cut into independent runs where a pair is not in this set.
  KeySet spm_pairs;

  // BPE: symbols are interned strings: ids < n_vocab are tokens, the rest
  // are merge parts that are not tokens themselves.
  std::optional<PreTokenizer> pretokenizer;
  std::vector<std::string> symbols;
  StringIndex symbol_index;
  MergeTable merges;
  int32_t byte_symbol[256];  // interned id of GPT-2's character for each byte, or -1
  int32_t byte_piece[256];   // token id of that character, or -1

  int32_t n() const { return static_cast<int32_t>(text.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < n(); }

  static std::unique_ptr<Vocab> load(const gguf::GgufFile& f);
};

// One piece of text to tokenize, or one special token already recognised.
struct Fragment {
  int32_t token = -1;  // >= 0: a special token
  size_t offset = 0, length = 0;
};
// `literal`: byte ranges [first, second) of `text` where no control token may
// be matched (message content inside a rendered chat template).
std::vector<Fragment> partition_special(const Vocab& v, std::string_view text, bool parse_special,
                                        std::span<const std::pair<size_t, size_t>> literal = {});

// whole: merge the text as one run without cuts or reuse (the slow
// reference the tests compare the fast path with).
void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out,
                bool whole = false);
void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// llama.cpp's clean_up_tokenization_spaces, in place.
void clean_spaces(std::string& s);

}  // namespace hearth::tokenizer
