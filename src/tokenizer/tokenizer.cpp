#include "tokenizer/tokenizer.h"

#include <stdexcept>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

namespace {

void escape_spaces(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + in.size() / 4);
  for (const char c : in) {
    if (c == ' ') {
      out += "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->vocab_ = Vocab::load(file);
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  return encode_impl(text, add_bos, parse_special, {});
}

std::vector<int32_t> Tokenizer::encode_rendered(
    std::string_view text, bool add_bos, std::span<const std::pair<size_t, size_t>> literal) const {
  return encode_impl(text, add_bos, /*parse_special=*/true, literal);
}

std::vector<int32_t> Tokenizer::encode_impl(
    std::string_view text, bool add_bos, bool parse_special,
    std::span<const std::pair<size_t, size_t>> literal) const {
  const Vocab& v = *vocab_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_bos && v.bos >= 0) out.push_back(v.bos);
  const std::vector<Fragment> frags = partition_special(v, text, parse_special, literal);
  std::string buf;
  bool prev_special = true;  // SPM: a space is prefixed to text at the start and after specials
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view piece = text.substr(f.offset, f.length);
    if (v.spm) {
      std::string prefixed;
      if (v.add_space_prefix && prev_special) {
        prefixed.reserve(piece.size() + 1);
        prefixed.push_back(' ');
        prefixed.append(piece);
      }
      escape_spaces(prefixed.empty() ? piece : std::string_view(prefixed), buf);
      encode_spm(v, buf, out);
    } else {
      encode_bpe(v, piece, out);
    }
    prev_special = false;
  }
  if (add_bos && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

bool Tokenizer::add_bos_default() const { return vocab_->add_bos && vocab_->bos >= 0; }
bool Tokenizer::add_eos_default() const { return vocab_->add_eos && vocab_->eos >= 0; }

std::string Tokenizer::piece(int32_t id, bool render_special) const {
  const Vocab& v = *vocab_;
  if (!v.valid(id)) return "";
  if (!render_special && (v.attr[id] & (kAttrControl | kAttrUnknown))) return "";
  return v.pieces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const Vocab& v = *vocab_;
  std::string out;
  bool strip_space = v.add_space_prefix;  // drop the space the encoder prefixed
  for (const int32_t id : ids) {
    std::string p = piece(id, render_special);
    if (strip_space && !p.empty() && p[0] == ' ') p.erase(0, 1);
    strip_space = false;
    out += p;
  }
  if (v.clean_spaces) clean_spaces(out);
  return out;
}

int32_t Tokenizer::n_vocab() const { return vocab_->n(); }
int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
int32_t Tokenizer::pad() const { return vocab_->pad; }
int32_t Tokenizer::fim_pre() const { return vocab_->fim_pre; }
int32_t Tokenizer::fim_suf() const { return vocab_->fim_suf; }
int32_t Tokenizer::fim_mid() const { return vocab_->fim_mid; }
bool Tokenizer::has_fim() const {
  return vocab_->fim_pre >= 0 && vocab_->fim_suf >= 0 && vocab_->fim_mid >= 0;
}
bool Tokenizer::is_eog(int32_t id) const { return vocab_->eog.count(id) > 0; }

TokenType Tokenizer::type(int32_t id) const {
  return vocab_->valid(id) ? vocab_->type[id] : TokenType::Undefined;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string empty;
  return vocab_->valid(id) ? vocab_->text[id] : empty;
}

const std::string& Tokenizer::model() const { return vocab_->model; }
const std::string& Tokenizer::pre() const { return vocab_->pre; }
int32_t Tokenizer::find(std::string_view text) const { return vocab_->index.find(text); }

// llama.cpp's three passes, compacting in place (the in-place reads are part
// of the behaviour): " ?" " !" " ." " ," lose the space; " ' " loses both
// spaces; " 's" " 'm" " 're" " 've" lose the space.
void clean_spaces(std::string& s) {
  char* t = s.data();
  size_t total = s.size();
  const size_t n1 = total;
  total = n1 ? 1 : 0;
  for (size_t i = 1; i < n1; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  const size_t n2 = total;
  total = n2 ? 1 : 0;
  for (size_t i = 1; i < n2; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < n2 && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  const size_t n3 = total;
  total = n3 ? 1 : 0;
  for (size_t i = 1; i < n3; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < n3) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n3) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  s.resize(total);
}

StreamDecoder::StreamDecoder(const Tokenizer& t, bool render_special)
    : tok_(t), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.piece(id, render_special_);
  const size_t hold = unicode::incomplete_utf8_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace hearth::tokenizer
