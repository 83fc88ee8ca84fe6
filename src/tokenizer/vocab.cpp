#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

size_t table_size(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  return cap;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

[[noreturn]] void fail(const Vocab& v, const std::string& what) {
  throw std::runtime_error("model file '" + v.file + "': " + what);
}

// llama.cpp's text rules for end-of-generation and other control tokens.
const char* const kEotTexts[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
const char* const kEogTexts[] = {"<|eot_id|>",
                                 "<|im_end|>",
                                 "<|end|>",
                                 "<|return|>",
                                 "<|call|>",
                                 "<|flush|>",
                                 "<|calls|>",
                                 "<end_of_turn>",
                                 "<|endoftext|>",
                                 "</s>",
                                 "<|eom_id|>",
                                 "<EOT>",
                                 "_<EOT>",
                                 "[EOT]",
                                 "[EOS]",
                                 "<|end_of_text|>",
                                 "<end_of_utterance>",
                                 "<eos>",
                                 "<turn|>",
                                 "<|tool_response>",
                                 "<｜end▁of▁sentence｜>"};
// Fill-in-the-middle markers by family: Qwen, OpenCoder, StarCoder, DeepSeek,
// CodeLlama (with and without its leading "▁"), GLM-4: llama.cpp's lists.
const char* const kFimPre[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                               "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                               "<|code_prefix|>"};
const char* const kFimSuf[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",   "<｜fim▁hole｜>",
                               "<SUF>",          "▁<SUF>",       "<|code_suffix|>"};
const char* const kFimMid[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",   "<｜fim▁end｜>",
                               "<MID>",          "▁<MID>",       "<|code_middle|>"};
const char* const kFimPad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const char* const kFimRep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                               "<reponame>"};
const char* const kFimSep[] = {"<|file_sep|>"};

template <size_t N>
bool one_of(const std::string& s, const char* const (&list)[N]) {
  for (const char* t : list)
    if (s == t) return true;
  return false;
}

TokenType type_from_file(int64_t t) {
  switch (t) {
    case 1:
      return TokenType::Normal;
    case 2:
      return TokenType::Unknown;
    case 3:
      return TokenType::Control;
    case 4:
      return TokenType::UserDefined;
    case 5:
      return TokenType::Unused;
    case 6:
      return TokenType::Byte;
    default:
      return TokenType::Undefined;
  }
}

uint8_t attr_of(TokenType t) {
  switch (t) {
    case TokenType::Normal:
      return kAttrNormal;
    case TokenType::Unknown:
      return kAttrUnknown;
    case TokenType::Control:
      return kAttrControl;
    case TokenType::UserDefined:
      return kAttrUserDefined;
    case TokenType::Unused:
      return kAttrUnused;
    case TokenType::Byte:
      return kAttrByte;
    default:
      return 0;
  }
}

void mark_control(Vocab& v, int32_t id) {
  if (!(v.attr[id] & kAttrControl)) {
    v.attr[id] |= kAttrControl;
    v.type[id] = TokenType::Control;
  }
}

void read_tokens(Vocab& v, const gguf::GgufFile& f) {
  v.text = f.get_string_array("tokenizer.ggml.tokens");
  if (v.text.empty()) fail(v, "no tokenizer.ggml.tokens (not a model with a vocabulary)");
  if (v.text.size() > 0x7FFFFFFF) fail(v, "tokenizer.ggml.tokens: too many tokens");
  const size_t n = v.text.size();
  for (size_t i = 0; i < n; ++i) {
    if (v.text[i].empty()) v.text[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  v.score = f.get_float_array("tokenizer.ggml.scores");
  if (v.score.empty()) {
    v.score.assign(n, 0.0f);
  } else if (v.score.size() < n) {
    fail(v, "tokenizer.ggml.scores has " + std::to_string(v.score.size()) + " entries for " +
                std::to_string(n) + " tokens");
  }
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() < n) {
    fail(v, "tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
                std::to_string(n) + " tokens");
  }
  v.type.resize(n);
  v.attr.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v.type[i] = types.empty() ? TokenType::Normal : type_from_file(types[i]);
    v.attr[i] = attr_of(v.type[i]);
  }
  v.index.build(v.text);
}

void read_special_ids(Vocab& v, const gguf::GgufFile& f) {
  auto read_id = [&](const char* key, int32_t& id) {
    if (!f.has(key)) return;
    const int64_t val = f.get_int(key, -1);
    if (val >= 0 && val < v.n()) id = static_cast<int32_t>(val);  // llama.cpp ignores bad ids too
  };
  int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
  read_id("tokenizer.ggml.bos_token_id", v.bos);
  read_id("tokenizer.ggml.eos_token_id", v.eos);
  read_id("tokenizer.ggml.eot_token_id", v.eot);
  read_id("tokenizer.ggml.eom_token_id", v.eom);
  read_id("tokenizer.ggml.unknown_token_id", v.unk);
  read_id("tokenizer.ggml.padding_token_id", v.pad);
  // Older converters wrote prefix/suffix/middle_token_id.
  read_id("tokenizer.ggml.prefix_token_id", v.fim_pre);
  read_id("tokenizer.ggml.suffix_token_id", v.fim_suf);
  read_id("tokenizer.ggml.middle_token_id", v.fim_mid);
  read_id("tokenizer.ggml.fim_pre_token_id", v.fim_pre);
  read_id("tokenizer.ggml.fim_suf_token_id", v.fim_suf);
  read_id("tokenizer.ggml.fim_mid_token_id", v.fim_mid);
  read_id("tokenizer.ggml.fim_pad_token_id", fim_pad);
  read_id("tokenizer.ggml.fim_rep_token_id", fim_rep);
  read_id("tokenizer.ggml.fim_sep_token_id", fim_sep);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", v.add_eos);

  // Text rules: find EOT/EOM/FIM tokens the converter did not name, and make
  // sure they are control tokens (llama.cpp does the same). llama.cpp takes
  // the first match in hash-map order; hearth prefers the lists' order, so a
  // vocabulary with both <|eot_id|> and <|end_of_text|> gets <|eot_id|>.
  auto by_text = [&](int32_t& slot, const auto& list) {
    if (slot >= 0) return;
    for (const char* t : list) {
      const int32_t id = v.index.find(t);
      if (id >= 0) {
        slot = id;
        mark_control(v, id);
        return;
      }
    }
  };
  static const char* const kEom[] = {"<|eom_id|>"};
  by_text(v.eot, kEotTexts);
  by_text(v.eom, kEom);
  by_text(v.fim_pre, kFimPre);
  by_text(v.fim_suf, kFimSuf);
  by_text(v.fim_mid, kFimMid);
  by_text(fim_pad, kFimPad);
  by_text(fim_rep, kFimRep);
  by_text(fim_sep, kFimSep);
  for (int32_t id = 0; id < v.n(); ++id) {
    if ((v.attr[id] & kAttrControl) && v.text[id].find("unused") != std::string::npos) {
      v.attr[id] |= kAttrUnused;
    }
  }
  for (int32_t id : {fim_pad, fim_rep, fim_sep})
    if (id >= 0) v.eog.insert(id);
  for (int32_t id = 0; id < v.n(); ++id) {
    if (one_of(v.text[id], kEogTexts)) {
      v.eog.insert(id);
      mark_control(v, id);
    }
    const std::string& t = v.text[id];
    if (t == "<|channel|>" || t == "<|message|>" || t == "<|start|>" || t == "<|constrain|>") {
      v.attr[id] = kAttrUserDefined;  // gpt-oss renders these
      v.type[id] = TokenType::UserDefined;
    }
  }
  for (int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) v.eog.insert(id);
  // Tokenizers with <|return|> and <|call|> (or <|calls|> and <|flush|>) end
  // turns with <|end|> without ending generation; Gemma 4 likewise for </s>.
  auto eog_text = [&](const char* t) {
    for (int32_t id : v.eog)
      if (v.text[id] == t) return id;
    return -1;
  };
  const int32_t end_id = eog_text("<|end|>");
  if (end_id >= 0 && ((eog_text("<|return|>") >= 0 && eog_text("<|call|>") >= 0) ||
                      (eog_text("<|calls|>") >= 0 && eog_text("<|flush|>") >= 0))) {
    v.eog.erase(end_id);
    v.attr[end_id] = kAttrUserDefined;
    v.type[end_id] = TokenType::UserDefined;
  }
  const int32_t s_id = eog_text("</s>");
  if (s_id >= 0 && eog_text("<|tool_response>") >= 0) {
    v.eog.erase(s_id);
    v.attr[s_id] = kAttrNormal;
    v.type[s_id] = TokenType::Normal;
  }
}

void build_special_list(Vocab& v, const gguf::GgufFile& f) {
  for (int32_t id = 0; id < v.n(); ++id) {
    if (v.attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special.push_back(id);
  }
  std::stable_sort(v.special.begin(), v.special.end(),
                   [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });
  // Phi-3 strips whitespace after its special tokens (llama.cpp keys this on the model name).
  v.rstrip.assign(v.text.size(), 0);
  std::string name = f.get_string("general.name", "");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v.special) v.rstrip[id] = 1;
    for (const char* t : {"</s>"}) {
      const int32_t id = v.index.find(t);
      if (id >= 0) v.rstrip[id] = 1;
    }
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) {
      const int32_t id = v.index.find(t);
      if (id >= 0) v.rstrip[id] = 0;
    }
  }
}

void build_spm_tables(Vocab& v) {
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    int32_t id = v.index.find(name);
    if (id < 0) id = v.index.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    v.byte_token[b] = id;
  }
  std::vector<uint64_t> pairs;
  for (const std::string& t : v.text) {
    size_t i = 0;
    uint32_t prev = 0;
    bool have_prev = false;
    while (i < t.size()) {
      const size_t n = std::min(unicode::utf8_len(static_cast<uint8_t>(t[i])), t.size() - i);
      const uint32_t cur = pack_symbol(t.data() + i, n);
      if (have_prev) pairs.push_back((static_cast<uint64_t>(prev) << 32) | cur);
      prev = cur;
      have_prev = true;
      i += n;
    }
  }
  v.spm_pairs.build(std::move(pairs));
}

void build_bpe_tables(Vocab& v, const gguf::GgufFile& f) {
  const auto merges = f.get_string_array("tokenizer.ggml.merges");
  if (merges.empty()) fail(v, "gpt2 tokenizer without tokenizer.ggml.merges");
  v.symbols = v.text;
  // Intern the merge parts that are not tokens (ids from n_vocab on).
  std::vector<std::array<std::string, 3>> parts(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t sp = m.find(' ', 1);
    if (sp != std::string::npos) {
      parts[i] = {m.substr(0, sp), m.substr(sp + 1), m.substr(0, sp) + m.substr(sp + 1)};
    }  // else: llama.cpp records an empty pair, which never matches a symbol
  }
  std::set<std::string> missing;
  for (const auto& p : parts)
    for (const auto& s : p)
      if (!s.empty() && v.index.find(s) < 0) missing.insert(s);
  for (const auto& s : missing) v.symbols.push_back(s);
  v.symbol_index.build(v.symbols);
  v.merges.reserve(merges.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i][0].empty()) continue;
    const int32_t l = v.symbol_index.find(parts[i][0]);
    const int32_t r = v.symbol_index.find(parts[i][1]);
    const int32_t res = v.symbol_index.find(parts[i][2]);
    v.merges.insert(l, r, static_cast<int32_t>(i), res);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string& ch = unicode::byte_to_gpt2(static_cast<uint8_t>(b));
    v.byte_symbol[b] = v.symbol_index.find(ch);
    v.byte_piece[b] = v.index.find(ch);
  }
}

// What one token contributes to decoded text, special tokens rendered.
std::string make_piece(const Vocab& v, int32_t id) {
  const uint8_t a = v.attr[id];
  const std::string& t = v.text[id];
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
  if (a & kAttrNormal) {
    std::string out;
    if (v.spm) {
      for (size_t i = 0; i < t.size(); ++i) {
        if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
          out.push_back(' ');
          i += 2;
        } else {
          out.push_back(t[i]);
        }
      }
      return out;
    }
    size_t i = 0;
    while (i < t.size()) {
      const size_t start = i;
      const uint32_t cp = unicode::decode_one(t, i);
      const int b = unicode::gpt2_to_byte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {  // llama.cpp marks characters outside GPT-2's byte map like this
        out += "[UNK_BYTE_0x";
        static const char* hex = "0123456789abcdef";
        for (size_t j = start; j < i; ++j) {
          out.push_back(hex[static_cast<uint8_t>(t[j]) >> 4]);
          out.push_back(hex[static_cast<uint8_t>(t[j]) & 15]);
        }
        out += t + "]";
      }
    }
    return out;
  }
  if (a & kAttrByte) {
    if (t.size() >= 5 && t.compare(0, 3, "<0x") == 0) {
      return std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
    }
    return "";
  }
  return "";  // unused and undefined tokens decode to nothing
}

}  // namespace

void StringIndex::build(const std::vector<std::string>& strings) {
  strings_ = &strings;
  slots_.assign(table_size(strings.size()), -1);
  mask_ = slots_.size() - 1;
  for (size_t id = 0; id < strings.size(); ++id) {
    size_t h = std::hash<std::string_view>{}(strings[id]) & mask_;
    while (slots_[h] >= 0 && strings[slots_[h]] != strings[id]) h = (h + 1) & mask_;
    slots_[h] = static_cast<int32_t>(id);
  }
}

int32_t StringIndex::find(std::string_view s) const {
  if (slots_.empty()) return -1;
  size_t h = std::hash<std::string_view>{}(s)&mask_;
  while (true) {
    const int32_t id = slots_[h];
    if (id < 0) return -1;
    if ((*strings_)[id] == s) return id;
    h = (h + 1) & mask_;
  }
}

void KeySet::build(std::vector<uint64_t> keys) {
  slots_.assign(table_size(keys.size()), ~uint64_t{0});
  mask_ = slots_.size() - 1;
  for (const uint64_t k : keys) {
    size_t h = mix(k) & mask_;
    while (slots_[h] != ~uint64_t{0} && slots_[h] != k) h = (h + 1) & mask_;
    slots_[h] = k;
  }
}

bool KeySet::contains(uint64_t k) const {
  if (slots_.empty()) return true;  // not built: claim everything (never cut text)
  size_t h = mix(k) & mask_;
  while (true) {
    if (slots_[h] == k) return true;
    if (slots_[h] == ~uint64_t{0}) return false;
    h = (h + 1) & mask_;
  }
}

void MergeTable::reserve(size_t n) {
  slots_.assign(table_size(n), Entry{});
  mask_ = slots_.size() - 1;
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if (left < 0 || right < 0) return;
  if ((size_ + 1) * 2 > slots_.size()) {
    std::vector<Entry> old = std::move(slots_);
    reserve(old.size());
    size_ = 0;
    for (const Entry& e : old)
      if (e.key != ~uint64_t{0})
        insert(static_cast<int32_t>(e.key >> 32), static_cast<int32_t>(e.key & 0xFFFFFFFF), e.rank,
               e.result);
  }
  const uint64_t k = key(left, right);
  size_t h = mix(k) & mask_;
  while (slots_[h].key != ~uint64_t{0}) {
    if (slots_[h].key == k) return;
    h = (h + 1) & mask_;
  }
  slots_[h] = Entry{k, rank, result};
  ++size_;
}

const MergeTable::Entry* MergeTable::find(int32_t left, int32_t right) const {
  if (left < 0 || right < 0 || slots_.empty()) return nullptr;
  const uint64_t k = key(left, right);
  size_t h = mix(k) & mask_;
  while (true) {
    const Entry& e = slots_[h];
    if (e.key == k) return &e;
    if (e.key == ~uint64_t{0}) return nullptr;
    h = (h + 1) & mask_;
  }
}

std::unique_ptr<Vocab> Vocab::load(const gguf::GgufFile& f) {
  auto v = std::make_unique<Vocab>();
  v->file = f.path();
  v->model = f.get_string("tokenizer.ggml.model", "");
  if (v->model.empty()) fail(*v, "no tokenizer.ggml.model");
  if (v->model == "llama") {
    v->spm = true;
    v->bos = 1;
    v->eos = 2;
    v->unk = 0;
    v->add_bos = true;
    v->add_space_prefix = true;
  } else if (v->model == "gpt2") {
    v->spm = false;
    v->bos = 11;  // llama.cpp's defaults when the file names none
    v->eos = 11;
    v->clean_spaces = true;
  } else {
    fail(*v, "unsupported tokenizer.ggml.model '" + v->model + "' (hearth knows llama, gpt2)");
  }
  read_tokens(*v, f);
  for (int32_t* id : {&v->bos, &v->eos, &v->unk})
    if (!v->valid(*id)) *id = -1;
  if (!v->spm) {
    v->pre = f.get_string("tokenizer.ggml.pre", "default");
    if (v->pre.empty()) v->pre = "default";
    try {
      v->pretokenizer = PreTokenizer::for_name(v->pre);
    } catch (const std::exception& e) {
      fail(*v, e.what());
    }
    v->clean_spaces = v->pretokenizer->clean_spaces();
    v->ignore_merges = v->pretokenizer->ignore_merges();
    if (v->pretokenizer->add_bos()) v->add_bos = *v->pretokenizer->add_bos();
    if (v->pre == "glm4" || v->pre == "chatglm-bpe") v->bos = -1;
    build_bpe_tables(*v, f);
  }
  v->add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", v->add_space_prefix);
  read_special_ids(*v, f);
  build_special_list(*v, f);
  if (v->spm) build_spm_tables(*v);
  v->pieces.resize(v->text.size());
  for (int32_t id = 0; id < v->n(); ++id) v->pieces[id] = make_piece(*v, id);
  return v;
}

}  // namespace hearth::tokenizer
