// Tokenizer: follows jinja2/lexer.py's regular expressions step by step so that
// the whitespace around tags comes out byte-identical.
#include "chat/lexer.h"

#include <cstring>

#include "chat/value.h"

namespace hearth::chat::detail {

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string normalize(std::string_view in) {
  std::string s;
  s.reserve(in.size());
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (in[k] == '\r') {
      s += '\n';
      if (k + 1 < in.size() && in[k + 1] == '\n') ++k;
    } else {
      s += in[k];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();  // keep_trailing_newline=False
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < s_.size()) {
      std::size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit(Tok::Data, s_.substr(pos_), pos_);
        break;
      }
      char kind = s_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < s_.size() ? s_[tag + 2] : 0;
      if (sign != '-' && sign != '+') sign = 0;
      std::size_t raw_end = kind == '%' ? match_raw_begin(tag) : 0;
      std::string text = s_.substr(pos_, tag - pos_);
      apply_left_strip(text, sign, kind != '{', line_starting);
      emit(Tok::Data, std::move(text), pos_);
      std::size_t after_open = tag + 2 + (sign ? 1 : 0);
      if (raw_end) {
        pos_ = raw_end;
        line_starting = s_[pos_ - 1] == '\n';
        lex_raw_body(line_starting);
      } else if (kind == '#') {
        lex_comment(after_open);
      } else {
        lex_tag(kind == '{', after_open, tag);
      }
      line_starting = pos_ > 0 && s_[pos_ - 1] == '\n';
    }
    tokens_.push_back({Tok::Eof, "", line_at(s_.size())});
    return std::move(tokens_);
  }

 private:
  std::string s_;
  std::size_t pos_ = 0;
  std::vector<Token> tokens_;

  int line_at(std::size_t off) const {
    int line = 1;
    for (std::size_t k = 0; k < off && k < s_.size(); ++k) line += s_[k] == '\n';
    return line;
  }
  [[noreturn]] void error(const std::string& msg, std::size_t off) const {
    fail("TemplateSyntaxError: " + msg + " (line " + std::to_string(line_at(off)) + ")");
  }
  void emit(Tok t, std::string text, std::size_t off) {
    if (t == Tok::Data && text.empty()) return;
    advance_line(off);
    tokens_.push_back({t, std::move(text), last_line_});
  }
  // Line numbers are computed incrementally: tokens are emitted in source order.
  int last_line_ = 1;
  std::size_t last_off_ = 0;
  void advance_line(std::size_t off) {
    for (; last_off_ < off && last_off_ < s_.size(); ++last_off_)
      last_line_ += s_[last_off_] == '\n';
  }

  std::size_t find_tag(std::size_t from) const {
    for (std::size_t k = s_.find('{', from); k != std::string::npos; k = s_.find('{', k + 1)) {
      if (k + 1 < s_.size() && (s_[k + 1] == '{' || s_[k + 1] == '%' || s_[k + 1] == '#')) return k;
    }
    return std::string::npos;
  }

  // {%[-+]?\s*raw\s*(-%}\s*|%}) at `tag`: returns the offset after it, or 0.
  std::size_t match_raw_begin(std::size_t tag) const {
    std::size_t k = tag + 2;
    if (k < s_.size() && (s_[k] == '-' || s_[k] == '+')) ++k;
    while (k < s_.size() && is_ws(s_[k])) ++k;
    if (s_.compare(k, 3, "raw") != 0) return 0;
    k += 3;
    while (k < s_.size() && is_ws(s_[k])) ++k;
    if (s_.compare(k, 3, "-%}") == 0) {
      k += 3;
      while (k < s_.size() && is_ws(s_[k])) ++k;
      return k;
    }
    if (s_.compare(k, 2, "%}") == 0) return k + 2;
    return 0;
  }

  static void apply_left_strip(std::string& text, char sign, bool block_like, bool line_starting) {
    if (sign == '-') {
      std::size_t e = text.size();
      while (e > 0 && is_ws(text[e - 1])) --e;
      text.resize(e);
    } else if (sign != '+' && block_like) {
      std::size_t nl = text.rfind('\n');
      std::size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
        bool all_ws = true;
        for (std::size_t k = l_pos; k < text.size(); ++k) all_ws = all_ws && is_ws(text[k]);
        if (all_ws) text.resize(l_pos);
      }
    }
  }

  // After a block/comment end marker at `k` (pointing past the closing brace):
  // `-` eats all whitespace, `+` nothing, plain eats one newline (trim_blocks).
  void finish_block_end(std::size_t k, char sign, bool trim) {
    if (sign == '-') {
      while (k < s_.size() && is_ws(s_[k])) ++k;
    } else if (sign == 0 && trim && k < s_.size() && s_[k] == '\n') {
      ++k;
    }
    pos_ = k;
  }

  void lex_comment(std::size_t from) {
    std::size_t end = s_.find("#}", from);
    if (end == std::string::npos) error("Missing end of comment tag", from);
    char sign = 0;
    if (end > from && (s_[end - 1] == '-' || s_[end - 1] == '+')) sign = s_[end - 1];
    finish_block_end(end + 2, sign, true);
  }

  void lex_raw_body(bool line_starting) {
    // (.*?)({%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?))
    for (std::size_t k = s_.find("{%", pos_); k != std::string::npos; k = s_.find("{%", k + 1)) {
      std::size_t j = k + 2;
      char sign = 0;
      if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) sign = s_[j++];
      while (j < s_.size() && is_ws(s_[j])) ++j;
      if (s_.compare(j, 6, "endraw") != 0) continue;
      j += 6;
      while (j < s_.size() && is_ws(s_[j])) ++j;
      char end_sign = 0;
      if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) end_sign = s_[j++];
      if (s_.compare(j, 2, "%}") != 0) continue;
      std::string text = s_.substr(pos_, k - pos_);
      apply_left_strip(text, sign, true, line_starting);
      emit(Tok::Data, std::move(text), pos_);
      finish_block_end(j + 2, end_sign, true);
      return;
    }
    error("Missing end of raw directive", pos_);
  }

  void lex_tag(bool is_var, std::size_t k, std::size_t open) {
    emit(is_var ? Tok::VarBegin : Tok::BlockBegin, "", open);
    std::string stack;  // expected closing brackets
    const char close = is_var ? '}' : '%';
    while (true) {
      while (k < s_.size() && is_ws(s_[k])) ++k;
      if (k >= s_.size())
        error(is_var ? "unexpected end of template, expected '}}'"
                     : "unexpected end of template, expected '%}'",
              open);
      if (stack.empty()) {
        // End rules: "-}}\s*" / "}}" for variables; "+%}" / "-%}\s*" / "%}\n?" for blocks.
        char sign = 0;
        std::size_t j = k;
        if (s_[j] == '-' || (!is_var && s_[j] == '+')) sign = s_[j++];
        if (s_.compare(j, 2, std::string(1, close) + "}") == 0) {
          emit(is_var ? Tok::VarEnd : Tok::BlockEnd, "", k);
          if (is_var) {
            j += 2;
            if (sign == '-')
              while (j < s_.size() && is_ws(s_[j])) ++j;
            pos_ = j;
          } else {
            finish_block_end(j + 2, sign, true);
          }
          return;
        }
      }
      k = lex_expr_token(k, stack);
    }
  }

  std::size_t lex_expr_token(std::size_t k, std::string& stack) {
    const char c = s_[k];
    auto digit = [&](std::size_t j) { return j < s_.size() && s_[j] >= '0' && s_[j] <= '9'; };
    if (digit(k)) {
      std::size_t j = k;
      auto digits = [&] {
        while (digit(j) || (s_[j] == '_' && digit(j + 1))) ++j;
      };
      digits();
      bool is_float = false;
      if (j < s_.size() && s_[j] == '.' && digit(j + 1)) {
        ++j;
        digits();
        is_float = true;
      }
      if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
        std::size_t e = j + 1;
        if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
        if (digit(e)) {
          j = e;
          digits();
          is_float = true;
        }
      }
      std::string text;
      for (std::size_t x = k; x < j; ++x)
        if (s_[x] != '_') text += s_[x];
      emit(is_float ? Tok::Float : Tok::Int, std::move(text), k);
      return j;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = k;
      while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_'))
        ++j;
      emit(Tok::Name, s_.substr(k, j - k), k);
      return j;
    }
    if (c == '\'' || c == '"') return lex_string(k);
    static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two)
      if (s_.compare(k, 2, op) == 0) {
        emit(Tok::Op, op, k);
        return k + 2;
      }
    if (std::strchr("+-*/%~[](){}<>=.:|,;", c) == nullptr || c == 0)
      error(std::string("unexpected char '") + c + "'", k);
    if (c == '(' || c == '[' || c == '{') {
      stack += c == '(' ? ')' : c == '[' ? ']' : '}';
    } else if (c == ')' || c == ']' || c == '}') {
      if (stack.empty()) error(std::string("unexpected '") + c + "'", k);
      if (stack.back() != c)
        error(std::string("unexpected '") + c + "', expected '" + stack.back() + "'", k);
      stack.pop_back();
    }
    emit(Tok::Op, std::string(1, c), k);
    return k + 1;
  }

  std::size_t lex_string(std::size_t k) {
    const char q = s_[k];
    std::string out;
    std::size_t j = k + 1;
    while (true) {
      if (j >= s_.size()) error("unterminated string", k);
      char c = s_[j];
      if (c == q) break;
      if (c != '\\') {
        out += c;
        ++j;
        continue;
      }
      if (j + 1 >= s_.size()) error("unterminated string", k);
      char e = s_[j + 1];
      j += 2;
      auto hex = [&](int n) -> long {
        if (j + n > s_.size()) error("truncated escape in string", k);
        long v = 0;
        for (int x = 0; x < n; ++x) {
          char h = s_[j + x];
          int d = std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                  : (h >= 'a' && h <= 'f')                    ? h - 'a' + 10
                  : (h >= 'A' && h <= 'F')                    ? h - 'A' + 10
                                                              : -1;
          if (d < 0) error("bad escape in string", k);
          v = v * 16 + d;
        }
        j += n;
        return v;
      };
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
          utf8_append(out, static_cast<char32_t>(hex(2)));
          break;
        case 'u':
          utf8_append(out, static_cast<char32_t>(hex(4)));
          break;
        case 'U': {
          long v = hex(8);
          if (v > 0x10FFFF) error("bad \\U escape in string", k);
          utf8_append(out, static_cast<char32_t>(v));
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int x = 0; x < 2 && j < s_.size() && s_[j] >= '0' && s_[j] <= '7'; ++x)
              v = v * 8 + (s_[j++] - '0');
            utf8_append(out, static_cast<char32_t>(v));
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    emit(Tok::String, std::move(out), k);
    return j + 1;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize(source)).run(); }

}  // namespace hearth::chat::detail
