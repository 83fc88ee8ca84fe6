// Text <-> token ids for the vocabularies GGUF files carry (tokenizer.ggml.*).
//
// Two models: `llama` (SentencePiece BPE merged by piece scores, byte fallback
// to <0xNN> tokens) and `gpt2` (byte-level BPE merged by merge rank, after a
// pre-tokenizer chosen by tokenizer.ggml.pre). Results match llama.cpp's
// llama_tokenize / llama_token_to_piece token for token.
//
// Special tokens: text from users is encoded with parse_special = false (a
// literal "</s>" is ordinary text); text hearth builds itself (chat templates)
// is encoded with parse_special = true, which matches control and user-defined
// tokens as whole tokens, longest first.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gguf/reader.h"

namespace hearth::tokenizer {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocab;  // the tables, shared by the algorithms (vocab.h)

class Tokenizer {
 public:
  // Reads tokenizer.ggml.* from `file`; throws std::runtime_error naming the
  // file and the field (unknown model or pre-tokenizer, bad arrays, ...).
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);
  ~Tokenizer();

  // add_bos: prepend BOS when the vocabulary has one, and append EOS when
  // tokenizer.ggml.add_eos_token is set (pass add_bos_default() to do what
  // the model asks). parse_special: see the file comment. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;
  // As above with parse_special, except that control tokens are not matched
  // where they overlap a `literal` byte range [first, second) of `text`: text
  // hearth rendered around what users wrote (a chat template's markup is
  // parsed, the messages' content is not).
  std::vector<int32_t> encode_rendered(std::string_view text, bool add_bos,
                                       std::span<const std::pair<size_t, size_t>> literal) const;
  // tokenizer.ggml.add_bos_token (llama: default true; gpt2: default false).
  bool add_bos_default() const;
  bool add_eos_default() const;

  // Text of the ids as llama.cpp's llama_detokenize gives it: the pieces
  // concatenated (control tokens as their text only when render_special);
  // when the vocabulary prefixes a space (SPM) the first piece loses one
  // leading space; vocabularies with clean_spaces (GPT-2, Falcon, Llama 3...)
  // drop the space before "?!.," and in " 's"-style contractions. So
  // decode(encode(t, false, false)) == t for SPM and for BPE without clean-up.
  // Streaming output (StreamDecoder) is the plain concatenation of pieces.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;
  // The bytes one token contributes to decoded text (byte tokens as raw
  // bytes, "▁" as space, GPT-2 byte characters as bytes); control tokens give
  // "" unless render_special.
  std::string piece(int32_t id, bool render_special = false) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 if none
  int32_t eos() const;  // -1 if none
  int32_t eot() const;  // -1 if none
  int32_t pad() const;  // -1 if none
  // Fill-in-the-middle markers (prefix, suffix, middle): -1 each when the
  // vocabulary has none; has_fim() when it has all three.
  int32_t fim_pre() const;
  int32_t fim_suf() const;
  int32_t fim_mid() const;
  bool has_fim() const;
  bool is_eog(int32_t id) const;  // end of generation: eos, eot and other EOG tokens
  TokenType type(int32_t id) const;
  const std::string& token_text(int32_t id) const;  // raw vocabulary string
  const std::string& model() const;                 // "llama" or "gpt2"
  const std::string& pre() const;                   // tokenizer.ggml.pre ("default" when absent)
  // The id of an exact vocabulary string, or -1.
  int32_t find(std::string_view text) const;

 private:
  Tokenizer();
  std::vector<int32_t> encode_impl(std::string_view text, bool add_bos, bool parse_special,
                                   std::span<const std::pair<size_t, size_t>> literal) const;
  std::unique_ptr<Vocab> vocab_;
};

// Turns a stream of ids into text without ever emitting part of a UTF-8
// character: bytes of an incomplete character are held back until the rest
// arrives. flush() returns what is still held (invalid bytes as they are).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& t, bool render_special = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  std::string pending_;
};

}  // namespace hearth::tokenizer
