// libFuzzer target: the SPM and BPE tokenizers on arbitrary text, with real
// vocabularies loaded once (the bundled tiny-kjv model and llama.cpp's test
// vocabularies in tests/data/vocab). For each input and each tokenizer it
// encodes with and without BOS, with special-token parsing on and off, decodes
// and streams the ids, and checks what tokenizer.h promises:
//  - encoding never throws and gives ids in [0, n_vocab);
//  - encode(t, true, ps) is BOS (+ EOS when add_eos) around encode(t, false, ps);
//  - StreamDecoder's pushes plus flush concatenate to the pieces of the ids,
//    and when that text is valid UTF-8 each push is whole characters;
//  - lossless vocabularies (SPM with byte fallback, byte-level BPE without
//    space clean-up) give decode(encode(t)) == t for valid UTF-8 t with
//    special parsing off (SPM: t without U+2581, its space mark);
//  - vocabularies with clean-up give t back when t has none of the space
//    patterns the clean-up removes.
// The input bytes read as little-endian int32 ids (any value, out-of-range
// ones included) are also decoded and streamed: that must not crash either.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using hearth::tokenizer::StreamDecoder;
using hearth::tokenizer::Tokenizer;
namespace unicode = hearth::tokenizer::unicode;

struct Loaded {
  std::string name;
  std::unique_ptr<hearth::gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
  bool lossless = false;  // decode(encode(t)) == t for valid UTF-8 t (see above)
  bool spm = false;
  // Bytes the vocabulary has a token for (SPM: <0xNN>; BPE: GPT-2's character
  // for the byte). Like llama.cpp, BPE drops bytes without one, so text with
  // such bytes does not come back.
  bool has_byte[256] = {};
};

std::vector<Loaded>& tokenizers() {
  static std::vector<Loaded> all = [] {
    const std::string root = HEARTH_SOURCE_DIR;
    std::vector<Loaded> v;
    const std::pair<const char*, std::string> files[] = {
        {"tiny-kjv", root + "/models/tiny-kjv-f16.gguf"},
        {"llama-spm", root + "/tests/data/vocab/ggml-vocab-llama-spm.gguf"},
        {"gpt-2", root + "/tests/data/vocab/ggml-vocab-gpt-2.gguf"},
        {"falcon", root + "/tests/data/vocab/ggml-vocab-falcon.gguf"},
        {"deepseek-llm", root + "/tests/data/vocab/ggml-vocab-deepseek-llm.gguf"},
    };
    for (const auto& [name, path] : files) {
      Loaded l;
      l.name = name;
      l.file = hearth::gguf::GgufFile::open(path);
      l.tok = Tokenizer::from_gguf(*l.file);
      l.spm = l.tok->model() == "llama";
      for (int b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        l.has_byte[b] = l.tok->find(l.spm ? std::string(hex)
                                          : unicode::byte_to_gpt2(static_cast<uint8_t>(b))) >= 0;
      }
      l.lossless = l.spm || l.name == "deepseek-llm";  // deepseek: BPE without space clean-up
      v.push_back(std::move(l));
    }
    return v;
  }();
  return all;
}

// Strict UTF-8: shortest forms, no surrogates, at most U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

std::string escaped(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b < 0x7F && c != '\\') {
      out.push_back(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", b);
      out += hex;
    }
  }
  return out;
}

[[noreturn]] void finding(const Loaded& l, const char* what, std::string_view text,
                          std::string_view got = {}) {
  std::fprintf(stderr, "tokenizer %s: %s\n  input: '%s'\n", l.name.c_str(), what,
               escaped(text).c_str());
  if (!got.empty()) std::fprintf(stderr, "  got:   '%s'\n", escaped(got).c_str());
  __builtin_trap();
}

// Streams `ids`; checks the pushes against the pieces.
void check_stream(const Loaded& l, const std::vector<int32_t>& ids, bool render_special,
                  std::string_view text) {
  StreamDecoder dec(*l.tok, render_special);
  std::string pieces, streamed;
  std::vector<std::string> pushes;
  for (const int32_t id : ids) {
    pieces += l.tok->piece(id, render_special);
    pushes.push_back(dec.push(id));
    streamed += pushes.back();
  }
  streamed += dec.flush();
  if (streamed != pieces) finding(l, "streamed text differs from the pieces", text);
  if (valid_utf8(pieces)) {
    for (const auto& p : pushes)
      if (!valid_utf8(p)) finding(l, "a push emitted part of a character", text);
  }
}

bool has_cleanup_pattern(std::string_view t) {
  for (const char* p : {" ?", " !", " .", " ,", " '"})
    if (t.find(p) != std::string_view::npos) return true;
  return false;
}

void fuzz_one(const Loaded& l, std::string_view text) {
  const Tokenizer& tok = *l.tok;
  const int32_t n_vocab = tok.n_vocab();
  for (const bool special : {false, true}) {
    const auto plain = tok.encode(text, false, special);
    const auto with_bos = tok.encode(text, true, special);
    for (const auto* ids : {&plain, &with_bos})
      for (const int32_t id : *ids)
        if (id < 0 || id >= n_vocab) finding(l, "id out of range", text);
    std::vector<int32_t> expect;
    if (tok.bos() >= 0) expect.push_back(tok.bos());
    expect.insert(expect.end(), plain.begin(), plain.end());
    if (tok.add_eos_default()) expect.push_back(tok.eos());
    if (with_bos != expect) finding(l, "add_bos changed more than BOS/EOS", text);

    for (const bool render : {false, true}) {
      (void)tok.decode(with_bos, render);
      check_stream(l, with_bos, render, text);
    }
    const std::string back = tok.decode(plain);
    bool covered = true;
    for (const char c : text) covered = covered && l.has_byte[static_cast<uint8_t>(c)];
    if (!special && covered && valid_utf8(text)) {
      if (l.lossless && (!l.spm || text.find("\xE2\x96\x81") == std::string_view::npos) &&
          back != text)
        finding(l, "decode(encode(text)) != text", text, back);
      if (!l.lossless && !l.spm && !has_cleanup_pattern(text) && back != text)
        finding(l, "decode(encode(text)) != text without clean-up patterns", text, back);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const Loaded& l : tokenizers()) fuzz_one(l, text);

  // The bytes as ids: raw (mostly unknown or negative: they decode to "") and
  // folded into [-8, n_vocab + 8) so that most name real tokens.
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  for (const Loaded& l : tokenizers()) {
    std::vector<int32_t> folded;
    const uint32_t span = static_cast<uint32_t>(l.tok->n_vocab()) + 16;
    for (const int32_t r : raw)
      folded.push_back(static_cast<int32_t>(static_cast<uint32_t>(r) % span) - 8);
    for (const auto* ids : {&raw, &folded}) {
      for (const bool render : {false, true}) {
        (void)l.tok->decode(*ids, render);
        check_stream(l, *ids, render, text);
      }
    }
  }
  return 0;
}
