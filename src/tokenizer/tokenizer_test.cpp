// Behaviour beyond the llama.cpp vectors: special tokens, ids and types,
// decoding, streaming, errors, and a hand-made BPE vocabulary.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <random>

#include "gguf/writer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

std::string vocab_path(const std::string& name) {
  return std::string(HEARTH_SOURCE_DIR) + "/tests/data/vocab/ggml-vocab-" + name + ".gguf";
}

struct Loaded {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& name) {
  Loaded l;
  l.file = gguf::GgufFile::open(vocab_path(name));
  l.tok = Tokenizer::from_gguf(*l.file);
  return l;
}

std::vector<int32_t> concat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Special, LlamaControlTokenInUserTextStaysText) {
  auto l = load("llama-spm");
  const int32_t eos = l.tok->find("</s>");
  ASSERT_EQ(eos, l.file->get_int("tokenizer.ggml.eos_token_id", -1));
  const auto plain = l.tok->encode("Hello </s> world", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eos), 0);
  EXPECT_EQ(l.tok->decode(plain), "Hello </s> world");

  // Parsed: the text on each side is tokenized alone, and SPM prefixes a
  // space to text that follows a special token, as at the start.
  const auto parsed = l.tok->encode("Hello </s> world", false, true);
  EXPECT_EQ(parsed, concat({l.tok->encode("Hello ", false, false),
                            {eos},
                            l.tok->encode(" world", false, false)}));
}

TEST(Special, LongestFirstAndWholeTokens) {
  auto l = load("llama-spm");
  const int32_t bos = l.tok->find("<s>");
  const int32_t eos = l.tok->find("</s>");
  const auto ids = l.tok->encode("<s></s><s>", false, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{bos, eos, bos}));
}

TEST(Ids, LlamaSpecialIdsComeFromTheFile) {
  auto l = load("llama-spm");
  EXPECT_EQ(l.tok->model(), "llama");
  EXPECT_EQ(l.tok->bos(), l.file->get_int("tokenizer.ggml.bos_token_id", -1));
  EXPECT_EQ(l.tok->eos(), l.file->get_int("tokenizer.ggml.eos_token_id", -1));
  EXPECT_EQ(l.tok->n_vocab(),
            static_cast<int32_t>(l.file->get_string_array("tokenizer.ggml.tokens").size()));
  EXPECT_TRUE(l.tok->add_bos_default());
  EXPECT_TRUE(l.tok->is_eog(l.tok->eos()));
  EXPECT_FALSE(l.tok->is_eog(l.tok->bos()));
  const auto with_bos = l.tok->encode("In the beginning", true, false);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos[0], l.tok->bos());
  EXPECT_EQ(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()),
            l.tok->encode("In the beginning", false, false));
}

TEST(Ids, TypesComeFromTheFile) {
  for (const char* name : {"llama-spm", "gpt-2"}) {
    auto l = load(name);
    const auto types = l.file->get_int_array("tokenizer.ggml.token_type");
    ASSERT_EQ(types.size(), static_cast<size_t>(l.tok->n_vocab()));
    for (int32_t id = 0; id < l.tok->n_vocab(); ++id) {
      // llama.cpp promotes end-of-turn texts to control; nothing else changes.
      if (l.tok->is_eog(id)) continue;
      ASSERT_EQ(static_cast<int64_t>(l.tok->type(id)), types[id]) << name << " id " << id;
    }
  }
  auto l = load("llama-spm");
  EXPECT_EQ(l.tok->type(l.tok->find("<0x0A>")), TokenType::Byte);
  EXPECT_EQ(l.tok->type(l.tok->bos()), TokenType::Control);
  EXPECT_EQ(l.tok->type(-1), TokenType::Undefined);
  EXPECT_EQ(l.tok->type(l.tok->n_vocab()), TokenType::Undefined);
}

TEST(Ids, Gpt2DefaultsFollowTheFile) {
  auto l = load("gpt-2");
  EXPECT_EQ(l.tok->model(), "gpt2");
  EXPECT_EQ(l.tok->pre(), l.file->get_string("tokenizer.ggml.pre", "default"));
  EXPECT_EQ(l.tok->add_bos_default(), l.file->get_bool("tokenizer.ggml.add_bos_token", false));
  const int32_t eot = l.tok->find("<|endoftext|>");
  ASSERT_GE(eot, 0);
  EXPECT_TRUE(l.tok->is_eog(eot));
}

TEST(Decode, RenderSpecialAndPieces) {
  auto l = load("llama-spm");
  const auto ids = l.tok->encode("Hello world", true, false);
  EXPECT_EQ(l.tok->decode(ids, false), " Hello world");  // BOS first: its space is kept
  EXPECT_EQ(l.tok->decode(ids, true), "<s> Hello world");
  EXPECT_EQ(l.tok->piece(l.tok->bos()), "");
  EXPECT_EQ(l.tok->piece(l.tok->bos(), true), "<s>");
  EXPECT_EQ(l.tok->piece(l.tok->find("<0x0A>")), "\n");
  EXPECT_EQ(l.tok->piece(l.tok->find("\xE2\x96\x81the")), " the");
  EXPECT_EQ(l.tok->token_text(l.tok->find("\xE2\x96\x81the")), "\xE2\x96\x81the");
}

TEST(Decode, Gpt2CleansSpacesLikeLlamaCpp) {
  auto l = load("gpt-2");
  EXPECT_EQ(l.tok->decode(l.tok->encode("Hello , world !", false, false)), "Hello, world!");
  EXPECT_EQ(l.tok->decode(l.tok->encode("it 's", false, false)), "it's");
  auto d = load("deepseek-llm");  // no clean-up: lossless
  EXPECT_EQ(d.tok->decode(d.tok->encode("Hello , world !", false, false)), "Hello , world !");
}

// Pushes ids one by one; returns what came out of each push, then flush.
std::vector<std::string> stream(const Tokenizer& t, const std::vector<int32_t>& ids) {
  StreamDecoder dec(t);
  std::vector<std::string> out;
  for (const int32_t id : ids) out.push_back(dec.push(id));
  out.push_back(dec.flush());
  return out;
}

TEST(Stream, SpmByteTokensOfOneCharacterComeOutOnce) {
  auto l = load("llama-spm");
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, four byte tokens in Llama 2
  std::vector<int32_t> ids;
  for (const char* b : {"<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"}) ids.push_back(l.tok->find(b));
  EXPECT_EQ(stream(*l.tok, ids), (std::vector<std::string>{"", "", "", llama, ""}));

  const auto enc = l.tok->encode("a" + llama + "b", false, false);
  std::string joined;
  for (const auto& s : stream(*l.tok, enc)) {
    if (!s.empty()) {
      EXPECT_EQ(unicode::incomplete_utf8_tail(s), 0u) << "half a character";
    }
    joined += s;
  }
  EXPECT_EQ(joined, " a" + llama + "b");
}

TEST(Stream, Gpt2SplitCharacterAndFlush) {
  auto l = load("gpt-2");
  const std::string text = "\xE4\xB8\xAD\xE6\x96\x87 ok \xF0\x9F\x98\x80!";  // 中文 ok 😀!
  const auto ids = l.tok->encode(text, false, false);
  const auto parts = stream(*l.tok, ids);
  std::string joined;
  for (const auto& s : parts) {
    const auto cps = unicode::decode(s);
    EXPECT_EQ(std::count(cps.begin(), cps.end(), unicode::kReplacement), 0) << "split: " << s;
    joined += s;
  }
  EXPECT_EQ(joined, text);

  // An unfinished character is held back, and flush hands it over as it is.
  StreamDecoder dec(*l.tok);
  const int32_t e4 = l.tok->find(unicode::byte_to_gpt2(0xE4));
  ASSERT_GE(e4, 0);
  EXPECT_EQ(dec.push(e4), "");
  EXPECT_EQ(dec.flush(), "\xE4");
}

// A small byte-level BPE vocabulary written in memory.
std::vector<uint8_t> tiny_bpe(const std::string& pre, std::vector<std::string> tokens,
                              std::vector<std::string> merges, std::vector<int32_t> types = {}) {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  std::vector<gguf::Value> tv, mv, ty;
  for (auto& t : tokens) tv.push_back(gguf::Value::of_string(t));
  for (auto& m : merges) mv.push_back(gguf::Value::of_string(m));
  if (types.empty()) types.assign(tokens.size(), 1);
  for (int32_t t : types) ty.push_back(gguf::Value::of_int(gguf::ValueType::I32, t));
  w.set("tokenizer.ggml.tokens", gguf::Value::of_array(gguf::ValueType::STRING, tv));
  w.set("tokenizer.ggml.merges", gguf::Value::of_array(gguf::ValueType::STRING, mv));
  w.set("tokenizer.ggml.token_type", gguf::Value::of_array(gguf::ValueType::I32, ty));
  return w.to_bytes();
}

TEST(Bpe, MergesByRankNotByOrderOfAppearance) {
  // "abc": "b c" has the best rank, then "a bc"; "a b" never applies.
  const auto bytes = tiny_bpe("gpt-2", {"a", "b", "c", "ab", "bc", "abc"}, {"b c", "a bc", "a b"});
  auto f = gguf::GgufFile::parse(bytes, "tiny.gguf");
  auto t = Tokenizer::from_gguf(*f);
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<int32_t>{5}));
  EXPECT_EQ(t->encode("ab", false, false), (std::vector<int32_t>{3}));
  EXPECT_EQ(t->encode("cab", false, false), (std::vector<int32_t>{2, 3}));
  // "d" is no token: its byte has no token either, so it is dropped (as in llama.cpp).
  EXPECT_EQ(t->encode("adb", false, false), (std::vector<int32_t>{0, 1}));
}

TEST(Bpe, UserDefinedTokensMatchEvenWithoutParseSpecial) {
  const auto bytes = tiny_bpe("gpt-2", {"a", "b", "<x>", "<y>", "<", ">", "x", "y"}, {"a b"},
                              {1, 1, 4, 3, 1, 1, 1, 1});
  auto f = gguf::GgufFile::parse(bytes, "tiny.gguf");
  auto t = Tokenizer::from_gguf(*f);
  EXPECT_EQ(t->type(2), TokenType::UserDefined);
  EXPECT_EQ(t->type(3), TokenType::Control);
  EXPECT_EQ(t->encode("a<x>", false, false), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(t->encode("<y>", false, false), (std::vector<int32_t>{4, 7, 5}));
  EXPECT_EQ(t->encode("<y>", false, true), (std::vector<int32_t>{3}));
}

// Fill-in-the-middle markers: named by the file's keys, else found by their
// text (Qwen's here) and made control tokens, so users' text never makes them.
TEST(Special, FillInTheMiddleMarkers) {
  const auto bytes =
      tiny_bpe("gpt-2", {"a", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<", ">", "b"},
               {"a b"}, {1, 1, 1, 1, 1, 1, 1});
  auto f = gguf::GgufFile::parse(bytes, "tiny.gguf");
  auto t = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(t->has_fim());
  EXPECT_EQ(t->fim_pre(), 1);
  EXPECT_EQ(t->fim_suf(), 2);
  EXPECT_EQ(t->fim_mid(), 3);
  EXPECT_EQ(t->type(1), TokenType::Control);
  EXPECT_FALSE(t->is_eog(3));
  EXPECT_NE(t->encode("<|fim_prefix|>", false, false), (std::vector<int32_t>{1}));

  gguf::GgufWriter w;
  w.copy_metadata(*f);
  w.set("tokenizer.ggml.fim_pre_token_id", gguf::Value::of_uint(gguf::ValueType::U32, 6));
  const auto named = w.to_bytes();
  auto f2 = gguf::GgufFile::parse(named, "named.gguf");
  EXPECT_EQ(Tokenizer::from_gguf(*f2)->fim_pre(), 6);

  const auto none = tiny_bpe("gpt-2", {"a", "b"}, {"a b"});
  auto f3 = gguf::GgufFile::parse(none, "none.gguf");
  auto t3 = Tokenizer::from_gguf(*f3);
  EXPECT_FALSE(t3->has_fim());
  EXPECT_EQ(t3->fim_pre(), -1);
}

TEST(Errors, UnknownPreTokenizerIsRefused) {
  const auto bytes = tiny_bpe("no-such-pre", {"a", "b"}, {"a b"});
  auto f = gguf::GgufFile::parse(bytes, "tiny.gguf");
  try {
    Tokenizer::from_gguf(*f);
    FAIL() << "accepted an unknown pre-tokenizer";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.ggml.pre"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tiny.gguf"), std::string::npos) << msg;
  }
}

TEST(Errors, MissingVocabularyIsRefused) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  const auto bytes = w.to_bytes();
  auto f = gguf::GgufFile::parse(bytes, "empty.gguf");
  EXPECT_THROW(Tokenizer::from_gguf(*f), std::runtime_error);
  gguf::GgufWriter w2;
  w2.set_string("tokenizer.ggml.model", "bert");
  const auto bytes2 = w2.to_bytes();
  auto f2 = gguf::GgufFile::parse(bytes2, "bert.gguf");
  EXPECT_THROW(Tokenizer::from_gguf(*f2), std::runtime_error);
}

TEST(Spm, CutRunsGiveTheSameIdsAsOneWholeRun) {
  auto file = gguf::GgufFile::open(vocab_path("llama-spm"));
  auto v = Vocab::load(*file);
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text +=
        "\xE2\x96\x81In\xE2\x96\x81the\xE2\x96\x81"
        "beginning\xE2\x96\x81God,\xE2\x96\x81\xE2\x96\x81"
        "created:\n\n\xE2\x96\x81\xE4\xB8\xAD\xE6\x96\x87\xF0\x9F\xA6\x99\xE2\x96\x81"
        "1234567\t'tis\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81x";
  }
  std::vector<int32_t> fast, whole;
  encode_spm(*v, text, fast, false);
  encode_spm(*v, text, whole, true);
  EXPECT_EQ(fast, whole);
  EXPECT_GT(fast.size(), 400u);
}

}  // namespace
}  // namespace hearth::tokenizer

namespace hearth::tokenizer {
namespace {

// Arbitrary bytes (invalid UTF-8 included) never break encoding. Valid
// UTF-8 comes back exactly from SPM's byte fallback (U+2581, SentencePiece's
// space mark, is left out: it decodes to a space; after an invalid lead byte
// llama.cpp's SPM keeps the mark's bytes, so invalid text is not lossless).
TEST(Robustness, RandomBytesAndText) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
  std::uniform_int_distribution<uint32_t> cp(1, 0x10FFFF);
  for (const char* name : {"llama-spm", "gpt-2", "falcon", "deepseek-llm"}) {
    auto l = load(name);
    for (int round = 0; round < 200; ++round) {
      std::string bytes, text;
      const int n = len(rng);
      for (int i = 0; i < n; ++i) {
        bytes.push_back(static_cast<char>(byte(rng)));
        uint32_t c = cp(rng);
        if (round % 2) c &= 0x7FF;  // mostly ASCII and two-byte characters
        if (c == 0x2581 || (c >= 0xD800 && c <= 0xDFFF) || c == 0) c = 'x';
        unicode::append_utf8(text, c);
      }
      for (const bool special : {false, true}) {
        for (const std::string* s : {&bytes, &text}) {
          const auto ids = l.tok->encode(*s, true, special);
          for (const int32_t id : ids) ASSERT_TRUE(id >= 0 && id < l.tok->n_vocab()) << name;
        }
      }
      if (std::string(name) == "llama-spm" || std::string(name) == "deepseek-llm") {
        const auto ids = l.tok->encode(text, false, false);
        ASSERT_EQ(l.tok->decode(ids), text) << name << " round " << round;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::tokenizer

namespace hearth::tokenizer {
namespace {

TEST(Ids, EndOfTurnTokensFoundByText) {
  // Llama 3 style: no eot key; both <|end_of_text|> and <|eot_id|> end generation,
  // and <|eot_id|> is the end-of-turn token.
  const auto bytes = tiny_bpe("llama-bpe", {"a", "b", "<|end_of_text|>", "<|eot_id|>", "<|x|>"},
                              {"a b"}, {1, 1, 3, 3, 3});
  auto f = gguf::GgufFile::parse(bytes, "tiny.gguf");
  auto t = Tokenizer::from_gguf(*f);
  EXPECT_EQ(t->eot(), 3);
  EXPECT_TRUE(t->is_eog(2));
  EXPECT_TRUE(t->is_eog(3));
  EXPECT_FALSE(t->is_eog(4));
  EXPECT_TRUE(t->add_bos_default() == (t->bos() >= 0));  // llama-bpe asks for BOS when it has one
  EXPECT_EQ(t->encode("<|eot_id|>ab", false, true), (std::vector<int32_t>{3, 0, 1}));
}

}  // namespace
}  // namespace hearth::tokenizer
