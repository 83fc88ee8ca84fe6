// Statements: {% if %}, {% for %}, {% set %}, {% macro %}, {% call %},
// {% filter %}, {% with %}, loop controls; unknown tags are syntax errors.
#include "chat/parser.h"

namespace hearth::chat::detail {

Body Parser::parse_body(std::initializer_list<std::string_view> ends, std::string* found) {
  Body body;
  while (true) {
    const Token& tok = cur();
    if (tok.type == Tok::Eof) {
      if (ends.size() == 0) return body;
      std::string want;
      for (auto e : ends) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
      error("unexpected end of template; looking for " + want);
    }
    if (tok.type == Tok::Data) {
      auto s = std::make_unique<Stmt>();
      s->kind = SK::Text;
      s->text = tok.text;
      body.push_back(std::move(s));
      ++i_;
    } else if (tok.type == Tok::VarBegin) {
      ++i_;
      auto s = std::make_unique<Stmt>();
      s->kind = SK::Emit;
      s->line = cur().line;
      s->expr = parse_tuple();
      if (cur().type != Tok::VarEnd) error("expected end of print statement, got " + describe());
      ++i_;
      body.push_back(std::move(s));
    } else if (tok.type == Tok::BlockBegin) {
      ++i_;
      if (cur().type != Tok::Name) error("expected a statement name, got " + describe());
      for (auto e : ends)
        if (cur().text == e) {
          if (found) *found = cur().text;
          ++i_;
          return body;
        }
      body.push_back(parse_statement());
    } else {
      error("unexpected " + describe());
    }
  }
}

std::unique_ptr<Stmt> Parser::parse_statement() {
  DepthGuard guard(*this);
  auto s = std::make_unique<Stmt>();
  s->line = cur().line;
  const std::string kw = cur().text;
  ++i_;
  if (kw == "if") {
    parse_if(*s);
  } else if (kw == "for") {
    parse_for(*s);
  } else if (kw == "set") {
    parse_set(*s);
  } else if (kw == "macro") {
    parse_macro(*s);
  } else if (kw == "call") {
    parse_call_block(*s);
  } else if (kw == "filter") {
    s->kind = SK::FilterBlock;
    s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = parse_body({"endfilter"}, nullptr);
    expect_block_end();
  } else if (kw == "with") {
    s->kind = SK::With;
    while (cur().type != Tok::BlockEnd) {
      if (!s->params.empty()) expect_op(",");
      Param p;
      p.name = expect_name();
      expect_op("=");
      p.default_value = parse_expression();
      s->params.push_back(std::move(p));
    }
    expect_block_end();
    s->body = parse_body({"endwith"}, nullptr);
    expect_block_end();
  } else if (kw == "break" || kw == "continue") {
    if (loop_depth_ == 0) {
      --i_;
      error("'" + kw + "' outside of a loop");
    }
    s->kind = kw == "break" ? SK::Break : SK::Continue;
    expect_block_end();
  } else {
    --i_;
    error("encountered unknown tag '" + kw + "'");
  }
  return s;
}

void Parser::parse_if(Stmt& s) {
  s.kind = SK::If;
  while (true) {
    ExprPtr cond = parse_tuple();
    expect_block_end();
    std::string found;
    Body body = parse_body({"elif", "else", "endif"}, &found);
    s.branches.emplace_back(std::move(cond), std::move(body));
    if (found == "elif") continue;
    if (found == "else") {
      expect_block_end();
      s.else_body = parse_body({"endif"}, nullptr);
    }
    expect_block_end();
    return;
  }
}

std::vector<std::string> Parser::parse_targets() {
  std::vector<std::string> names;
  bool paren = skip_op("(");
  do {
    if (!names.empty() && (is_name("in") || is_op("=") || is_op(")"))) break;
    names.push_back(expect_name());
  } while (skip_op(","));
  if (paren) expect_op(")");
  return names;
}

void Parser::parse_for(Stmt& s) {
  s.kind = SK::For;
  s.targets = parse_targets();
  if (!skip_name("in")) error("expected 'in' in for loop, got " + describe());
  s.expr = parse_tuple(/*with_condexpr=*/false);
  if (skip_name("if")) s.cond = parse_expression();
  if (skip_name("recursive")) s.recursive = true;
  expect_block_end();
  ++loop_depth_;
  std::string found;
  s.body = parse_body({"endfor", "else"}, &found);
  --loop_depth_;
  if (found == "else") {
    expect_block_end();
    s.else_body = parse_body({"endfor"}, nullptr);
  }
  expect_block_end();
}

void Parser::parse_set(Stmt& s) {
  std::string first = expect_name();
  if (skip_op(".")) {
    s.attr = expect_name();
    s.targets = {first};
  } else {
    s.targets = {first};
    while (skip_op(",")) s.targets.push_back(expect_name());
  }
  if (skip_op("=")) {
    s.kind = SK::Set;
    s.expr = parse_tuple();
    expect_block_end();
    return;
  }
  s.kind = SK::SetBlock;
  if (skip_op("|")) s.expr = parse_filter_chain(nullptr);
  expect_block_end();
  s.body = parse_body({"endset"}, nullptr);
  expect_block_end();
}

void Parser::parse_params(std::vector<Param>& params) {
  expect_op("(");
  while (!skip_op(")")) {
    if (!params.empty()) expect_op(",");
    if (skip_op(")")) break;
    Param p;
    p.name = expect_name();
    if (skip_op("=")) p.default_value = parse_expression();
    params.push_back(std::move(p));
  }
}

void Parser::parse_macro(Stmt& s) {
  s.kind = SK::Macro;
  s.name = expect_name();
  parse_params(s.params);
  expect_block_end();
  int saved = loop_depth_;
  loop_depth_ = 0;
  std::size_t start = i_;
  s.body = parse_body({"endmacro"}, nullptr);
  for (std::size_t k = start; k < i_; ++k)
    if (t_[k].type == Tok::Name) {
      s.uses_caller = s.uses_caller || t_[k].text == "caller";
      s.uses_varargs = s.uses_varargs || t_[k].text == "varargs";
      s.uses_kwargs = s.uses_kwargs || t_[k].text == "kwargs";
    }
  loop_depth_ = saved;
  if (cur().type == Tok::Name) ++i_;  // {% endmacro name %}
  expect_block_end();
}

void Parser::parse_call_block(Stmt& s) {
  s.kind = SK::CallBlock;
  if (is_op("(")) parse_params(s.params);
  s.expr = parse_expression();
  if (s.expr->kind != EK::Call) error("expected a call in {% call %}");
  expect_block_end();
  int saved = loop_depth_;
  loop_depth_ = 0;
  s.body = parse_body({"endcall"}, nullptr);
  loop_depth_ = saved;
  expect_block_end();
}

std::shared_ptr<Program> parse(const std::string& source) { return Parser(tokenize(source)).run(); }

}  // namespace hearth::chat::detail
