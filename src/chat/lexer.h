// Template source -> tokens, with Jinja2's whitespace rules as Hugging Face
// configures them: trim_blocks (drop the newline after a block or comment tag),
// lstrip_blocks (drop a line's indentation before a block or comment tag),
// `-` on a tag strips all whitespace on that side, `+` turns lstrip/trim off.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::detail {

enum class Tok : std::uint8_t {
  Data,        // literal template text (after whitespace control)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // text holds the decoded value
  Int,
  Float,
  Op,  // text holds the operator: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  Eof,
};

struct Token {
  Tok type;
  std::string text;
  int line;  // 1-based line in the source
};

// Normalizes newlines (\r\n and \r become \n), drops one trailing newline as
// Jinja2 does, and tokenizes. Throws TemplateError on unterminated tags,
// strings, comments or raw blocks and on unbalanced brackets.
std::vector<Token> tokenize(std::string_view source);

}  // namespace hearth::chat::detail
