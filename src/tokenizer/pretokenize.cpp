#include "tokenizer/pretokenize.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

// The patterns, as llama.cpp's src/llama-vocab.cpp lists them per type.
const char* const kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kContractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

struct Family {
  std::vector<std::string> patterns;
};

const std::map<std::string, Family>& families() {
  static const std::map<std::string, Family> f = {
      {"default", {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}}},
      {"gpt2", {{kGpt2}}},
      {"llama3", {{kLlama3}}},
      {"qwen2", {{kQwen2}}},
      {"falcon", {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}}},
      {"starcoder", {{"\\p{N}", kGpt2}}},
      {"deepseek-llm",
       {{"[\r\n]",
         "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
         "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
         "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0"
         "-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A"
         "\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D"
         "\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3"
         "\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115"
         "\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145"
         "-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640"
         "-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06"
         "\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3"
         "\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF"
         "\U0001E900-\U0001E943]+",
         "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+", "\\s+$",
         "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", "\\p{N}+"}}},
      {"deepseek-coder",
       {{"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
         "\\p{N}"}}},
      {"deepseek-v3",
       {{"\\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
         "\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}}},
      {"gpt-4o",
       {{std::string("[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+") +
         kContractions + "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" +
         kContractions +
         "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
      {"tekken",
       {{"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}"
         "]?(("
         "?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| "
         "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
         "\\s+(?!\\S)|\\s+"}}},
      {"poro", {{" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"}}},
      {"viking", {{" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+", "\\p{N}"}}},
      {"seed-coder",
       {{std::string(kContractions) + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| "
                                      "?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|"
                                      "\\s+"}}},
      {"bailingmoe",
       {{"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
         "?[^\\s\\p{L}"
         "\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}}},
      {"exaone-moe",
       {{std::string(kContractions) + "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: "
                                      "\\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/"
                                      "]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}}},
      {"minicpm5",
       {{"\\p{N}{1,3}",
         std::string(kContractions) +
             "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*["
             "\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
  };
  return f;
}

struct NameInfo {
  const char* family;
  bool clean_spaces;
  bool ignore_merges;
  int add_bos;  // -1: the model type's default
};

// tokenizer.ggml.pre names -> family and flags (llama.cpp's llama_vocab::impl::load).
const std::map<std::string, NameInfo>& names() {
  static const std::map<std::string, NameInfo> n = {
      {"default", {"default", true, false, -1}},
      {"llama3", {"llama3", true, true, 1}},
      {"llama-v3", {"llama3", true, true, 1}},
      {"llama-bpe", {"llama3", true, true, 1}},
      {"falcon3", {"llama3", true, true, 1}},
      {"falcon-h1", {"llama3", true, true, 1}},
      {"pixtral", {"llama3", true, true, 1}},
      {"midm-2.0", {"llama3", true, true, 1}},
      {"lfm2", {"llama3", true, true, 1}},
      {"dbrx", {"llama3", true, false, -1}},
      {"smaug-bpe", {"llama3", true, false, -1}},
      {"glm4", {"llama3", true, false, -1}},
      {"chatglm-bpe", {"llama3", true, false, -1}},
      {"deepseek-llm", {"deepseek-llm", false, false, -1}},
      {"deepseek-coder", {"deepseek-coder", false, false, -1}},
      {"deepseek-v3", {"deepseek-v3", false, false, -1}},
      {"hunyuan-dense", {"deepseek-v3", false, false, -1}},
      {"joyai-llm", {"deepseek-v3", false, false, -1}},
      {"falcon", {"falcon", true, false, -1}},
      {"mpt", {"gpt2", true, false, -1}},
      {"olmo", {"gpt2", true, false, -1}},
      {"jais", {"gpt2", true, false, -1}},
      {"exaone4", {"gpt2", true, false, -1}},
      {"trillion", {"gpt2", false, false, -1}},
      {"granite-docling", {"gpt2", false, false, -1}},
      {"gpt-2", {"gpt2", true, false, -1}},
      {"phi-2", {"gpt2", true, false, -1}},
      {"jina-es", {"gpt2", true, false, -1}},
      {"jina-de", {"gpt2", true, false, -1}},
      {"gigachat", {"gpt2", true, false, -1}},
      {"jina-v2-es", {"gpt2", true, false, -1}},
      {"jina-v2-de", {"gpt2", true, false, -1}},
      {"a.x-4.0", {"gpt2", true, false, -1}},
      {"mellum", {"gpt2", true, false, -1}},
      {"modern-bert", {"gpt2", true, false, -1}},
      {"starcoder", {"starcoder", true, false, -1}},
      {"refact", {"starcoder", true, false, -1}},
      {"command-r", {"starcoder", false, false, -1}},
      {"smollm", {"starcoder", false, false, -1}},
      {"codeshell", {"starcoder", true, false, -1}},
      {"exaone", {"starcoder", true, false, -1}},
      {"minerva-7b", {"starcoder", true, false, -1}},
      {"mellum2", {"starcoder", true, false, -1}},
      {"qwen2", {"qwen2", false, false, -1}},
      {"deepseek-r1-qwen", {"qwen2", false, false, -1}},
      {"kormo", {"qwen2", false, false, -1}},
      {"f2llmv2", {"qwen2", false, false, -1}},
      {"megrez", {"qwen2", true, false, -1}},
      {"stablelm2", {"qwen2", true, false, -1}},
      {"hunyuan", {"qwen2", false, false, -1}},
      {"solar-open", {"qwen2", false, false, -1}},
      {"grok-2", {"qwen2", false, false, -1}},
      {"gpt-4o", {"gpt-4o", false, false, -1}},
      {"llama4", {"gpt-4o", false, false, -1}},
      {"kanana2", {"gpt-4o", false, false, -1}},
      {"talkie", {"gpt-4o", false, false, -1}},
      {"minimax-m2", {"gpt-4o", false, false, -1}},
      {"tekken", {"tekken", false, true, 1}},
      {"poro-chat", {"poro", false, false, -1}},
      {"bloom", {"poro", true, false, -1}},
      {"gpt3-finnish", {"poro", true, false, -1}},
      {"viking", {"viking", false, false, -1}},
      {"seed-coder", {"seed-coder", false, false, -1}},
      {"bailingmoe", {"bailingmoe", false, false, -1}},
      {"bailingmoe2", {"bailingmoe", false, false, -1}},
      {"llada-moe", {"bailingmoe", false, false, -1}},
      {"exaone-moe", {"exaone-moe", true, false, -1}},
      {"minicpm5", {"minicpm5", true, true, -1}},
  };
  return n;
}

// Compiled regexes are shared between tokenizers (compiling is cheap, but
// a server may load many models).
std::shared_ptr<const Regex> compiled(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[pattern];
  if (!slot) slot = std::make_shared<const Regex>(pattern);
  return slot;
}

// Walks one chunk of code points for the hand-written splitters below, which
// follow llama.cpp's unicode.cpp (including where it departs from the regex).
class ChunkWalker {
 public:
  ChunkWalker(std::span<const uint32_t> cps, size_t begin, size_t end, std::vector<size_t>& out)
      : cps_(cps), begin_(begin), end_(end), prev_end_(begin), out_(out) {}

  static constexpr uint32_t kOutOfRange = 0xFFFFFFFF;
  uint32_t cp(size_t pos) const { return pos >= begin_ && pos < end_ ? cps_[pos] : kOutOfRange; }
  uint16_t fl(size_t pos) const {
    return pos >= begin_ && pos < end_ ? unicode::flags(cps_[pos]) : 0;
  }
  // Emits [prev_end, end) as a word when non-empty; returns its length.
  size_t emit(size_t end) {
    const size_t len = end - prev_end_;
    if (len > 0) out_.push_back(len);
    prev_end_ = end;
    return len;
  }
  size_t end() const { return end_; }

 private:
  std::span<const uint32_t> cps_;
  size_t begin_, end_, prev_end_;
  std::vector<size_t>& out_;
};

constexpr uint16_t kLNW = unicode::kLetter | unicode::kNumber | unicode::kWhitespace;

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(ChunkWalker& w, size_t begin) {
  const size_t end = w.end();
  for (size_t pos = begin; pos < end;) {
    const uint32_t c = w.cp(pos);
    const uint16_t f = w.fl(pos);
    if (c == '\'' && pos + 1 < end) {
      const uint32_t n1 = w.cp(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += w.emit(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t n2 = w.cp(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += w.emit(pos + 3);
          continue;
        }
      }
    }
    uint16_t f2 = c == ' ' ? w.fl(pos + 1) : f;
    if (f2 & unicode::kLetter) {
      pos += c == ' ';
      while (w.fl(pos) & unicode::kLetter) ++pos;
      w.emit(pos);
      continue;
    }
    if (f2 & unicode::kNumber) {
      pos += c == ' ';
      while (w.fl(pos) & unicode::kNumber) ++pos;
      w.emit(pos);
      continue;
    }
    if (!(f2 & kLNW) && f2) {
      pos += c == ' ';
      while (!(f2 & kLNW) && f2) f2 = w.fl(++pos);
      w.emit(pos);
      continue;
    }
    size_t spaces = 0;
    while (w.fl(pos + spaces) & unicode::kWhitespace) ++spaces;
    if (spaces > 1 && w.cp(pos + spaces) != ChunkWalker::kOutOfRange) {
      pos += spaces - 1;  // \s+(?!\S): leave the last space to the next word
      w.emit(pos);
      continue;
    }
    if (spaces > 0) {
      pos += spaces;
      w.emit(pos);
      continue;
    }
    w.emit(++pos);
  }
}

// Llama 3 (max_digits 3) and Qwen2 (max_digits 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(ChunkWalker& w, size_t begin, size_t max_digits) {
  const size_t end = w.end();
  for (size_t pos = begin; pos < end;) {
    const uint32_t c = w.cp(pos);
    const uint16_t f = w.fl(pos);
    if (c == '\'' && pos + 1 < end) {
      const uint32_t n1 = unicode::to_lower(w.cp(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += w.emit(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t n2 = unicode::to_lower(w.cp(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += w.emit(pos + 3);
          continue;
        }
      }
    }
    if (!(c == '\r' || c == '\n' || (f & unicode::kNumber))) {
      if ((f & unicode::kLetter) || (w.fl(pos + 1) & unicode::kLetter)) {
        ++pos;
        while (w.fl(pos) & unicode::kLetter) ++pos;
        w.emit(pos);
        continue;
      }
    }
    if (f & unicode::kNumber) {
      size_t ini = pos;
      while (w.fl(pos) & unicode::kNumber) {
        if (++pos - ini >= max_digits) {
          w.emit(pos);
          ini = pos;
        }
      }
      w.emit(pos);
      continue;
    }
    uint16_t f2 = c == ' ' ? w.fl(pos + 1) : f;
    if (!(f2 & kLNW) && f) {
      pos += c == ' ';
      while (!(f2 & kLNW) && f2) f2 = w.fl(++pos);
      uint32_t c2 = w.cp(pos);
      while (c2 == '\r' || c2 == '\n') c2 = w.cp(++pos);
      w.emit(pos);
      continue;
    }
    size_t spaces = 0;
    size_t last_newline_end = 0;
    while (w.fl(pos + spaces) & unicode::kWhitespace) {
      const uint32_t c2 = w.cp(pos + spaces);
      if (c2 == '\r' || c2 == '\n') last_newline_end = pos + spaces + 1;
      ++spaces;
    }
    if (last_newline_end > 0) {
      pos = last_newline_end;
      w.emit(pos);
      continue;
    }
    if (spaces > 1 && w.cp(pos + spaces) != ChunkWalker::kOutOfRange) {
      pos += spaces - 1;
      w.emit(pos);
      continue;
    }
    if (spaces > 0) {
      pos += spaces;
      w.emit(pos);
      continue;
    }
    w.emit(++pos);
  }
}

}  // namespace

PreTokenizer PreTokenizer::for_name(const std::string& name) {
  const auto it = names().find(name);
  if (it == names().end()) {
    std::string known;
    for (const auto& n : known_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::runtime_error("unknown pre-tokenizer '" + name +
                             "' (tokenizer.ggml.pre); known: " + known);
  }
  PreTokenizer p;
  p.name_ = name;
  p.clean_spaces_ = it->second.clean_spaces;
  p.ignore_merges_ = it->second.ignore_merges;
  if (it->second.add_bos >= 0) p.add_bos_ = it->second.add_bos == 1;
  for (const auto& pattern : families().at(it->second.family).patterns) {
    Step s;
    if (pattern == kGpt2) {
      s.custom = Custom::Gpt2;
    } else if (pattern == kLlama3) {
      s.custom = Custom::Llama3;
    } else if (pattern == kQwen2) {
      s.custom = Custom::Qwen2;
    } else {
      s.regex = compiled(pattern);
    }
    p.steps_.push_back(std::move(s));
  }
  return p;
}

std::vector<std::string> PreTokenizer::known_names() {
  std::vector<std::string> out;
  for (const auto& [n, info] : names()) out.push_back(n);
  return out;
}

std::vector<size_t> PreTokenizer::split(std::span<const uint32_t> cps) const {
  std::vector<size_t> chunks = {cps.size()};
  for (const auto& step : steps_) {
    if (step.regex) {
      chunks = step.regex->split(cps, chunks);
      continue;
    }
    std::vector<size_t> out;
    out.reserve(cps.size() / 4 + 1);
    size_t start = 0;
    for (const size_t len : chunks) {
      ChunkWalker w(cps, start, start + len, out);
      if (step.custom == Custom::Gpt2) {
        split_gpt2(w, start);
      } else {
        split_llama3(w, start, step.custom == Custom::Llama3 ? 3 : 1);
      }
      start += len;
    }
    chunks = std::move(out);
  }
  return chunks;
}

}  // namespace hearth::tokenizer
