// Expressions: literals, names, operators, filters, tests, calls, subscripts.
#include <cerrno>
#include <cstdlib>

#include "chat/parser.h"

namespace hearth::chat::detail {

ExprPtr Parser::parse_tuple(bool with_condexpr) {
  ExprPtr first = with_condexpr ? parse_expression() : parse_or();
  if (!is_op(",")) return first;
  auto t = node(EK::Tuple);
  t->items.push_back(std::move(first));
  while (skip_op(",")) {
    if (cur().type == Tok::BlockEnd || cur().type == Tok::VarEnd || is_op(")")) break;
    t->items.push_back(with_condexpr ? parse_expression() : parse_or());
  }
  return t;
}

ExprPtr Parser::parse_expression() {
  DepthGuard g(*this);
  DepthRestore restore(*this);
  ExprPtr e = parse_or();
  while (skip_name("if")) {
    chain_step();
    auto c = node(EK::Cond);
    c->a = parse_or();
    c->b = std::move(e);
    if (skip_name("else")) c->c = parse_expression();
    e = std::move(c);
  }
  return e;
}

ExprPtr Parser::parse_or() {
  DepthRestore restore(*this);
  ExprPtr e = parse_and();
  while (skip_name("or")) {
    chain_step();
    auto n = node(EK::Or);
    n->a = std::move(e);
    n->b = parse_and();
    e = std::move(n);
  }
  return e;
}

ExprPtr Parser::parse_and() {
  DepthRestore restore(*this);
  ExprPtr e = parse_not();
  while (skip_name("and")) {
    chain_step();
    auto n = node(EK::And);
    n->a = std::move(e);
    n->b = parse_not();
    e = std::move(n);
  }
  return e;
}

ExprPtr Parser::parse_not() {
  if (skip_name("not")) {
    DepthGuard g(*this);
    auto n = node(EK::Not);
    n->a = parse_not();
    return n;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  DepthRestore restore(*this);
  ExprPtr e = parse_math1();
  ExprPtr cmp;
  while (true) {
    Op op;
    if (is_op("=="))
      op = Op::Eq;
    else if (is_op("!="))
      op = Op::Ne;
    else if (is_op("<"))
      op = Op::Lt;
    else if (is_op("<="))
      op = Op::Le;
    else if (is_op(">"))
      op = Op::Gt;
    else if (is_op(">="))
      op = Op::Ge;
    else if (is_name("in"))
      op = Op::In;
    else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
      op = Op::NotIn;
      ++i_;
    } else
      break;
    ++i_;
    chain_step();
    if (!cmp) {
      cmp = node(EK::Compare);
      cmp->a = std::move(e);
    }
    cmp->ops.push_back(op);
    cmp->items.push_back(parse_math1());
  }
  return cmp ? std::move(cmp) : std::move(e);
}

ExprPtr Parser::binary(Op op, ExprPtr l, ExprPtr r) {
  auto n = node(EK::Binary);
  n->op = op;
  n->a = std::move(l);
  n->b = std::move(r);
  return n;
}

ExprPtr Parser::parse_math1() {
  DepthRestore restore(*this);
  ExprPtr e = parse_concat();
  while (is_op("+") || is_op("-")) {
    chain_step();
    Op op = cur().text == "+" ? Op::Add : Op::Sub;
    ++i_;
    e = binary(op, std::move(e), parse_concat());
  }
  return e;
}

ExprPtr Parser::parse_concat() {
  DepthRestore restore(*this);
  ExprPtr e = parse_math2();
  while (skip_op("~") && (chain_step(), true)) e = binary(Op::Concat, std::move(e), parse_math2());
  return e;
}

ExprPtr Parser::parse_math2() {
  DepthRestore restore(*this);
  ExprPtr e = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    chain_step();
    const std::string& t = cur().text;
    Op op = t == "*" ? Op::Mul : t == "/" ? Op::Div : t == "//" ? Op::FloorDiv : Op::Mod;
    ++i_;
    e = binary(op, std::move(e), parse_pow());
  }
  return e;
}

ExprPtr Parser::parse_pow() {
  DepthRestore restore(*this);
  ExprPtr e = parse_unary(true);
  while (skip_op("**") && (chain_step(), true))
    e = binary(Op::Pow, std::move(e), parse_unary(true));
  return e;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard g(*this);
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    auto n = node(cur().text == "-" ? EK::Neg : EK::Pos);
    ++i_;
    n->a = parse_unary(false);
    e = std::move(n);
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  if (with_filter) e = parse_filter_expr(std::move(e));
  return e;
}

ExprPtr Parser::parse_primary() {
  const Token& tok = cur();
  if (tok.type == Tok::Name) {
    const std::string& n = tok.text;
    auto lit = node(EK::Literal);
    if (n == "true" || n == "True")
      lit->value = Value::boolean(true);
    else if (n == "false" || n == "False")
      lit->value = Value::boolean(false);
    else if (n == "none" || n == "None")
      lit->value = Value::none();
    else {
      auto name = node(EK::Name);
      name->name = n;
      ++i_;
      return name;
    }
    ++i_;
    return lit;
  }
  if (tok.type == Tok::String) {
    auto lit = node(EK::Literal);
    std::string s;
    while (cur().type == Tok::String) s += t_[i_++].text;
    lit->value = Value::string(std::move(s));
    return lit;
  }
  if (tok.type == Tok::Int || tok.type == Tok::Float) {
    auto lit = node(EK::Literal);
    if (tok.type == Tok::Float) {
      lit->value = Value::number(std::strtod(tok.text.c_str(), nullptr));
    } else {
      errno = 0;
      long long v = std::strtoll(tok.text.c_str(), nullptr, 10);
      if (errno == ERANGE) error("integer literal too large: " + tok.text);
      lit->value = Value::integer(v);
    }
    ++i_;
    return lit;
  }
  if (skip_op("(")) {
    if (skip_op(")")) return node(EK::Tuple);
    ExprPtr e = parse_expression();
    if (is_op(",")) {
      auto t = node(EK::Tuple);
      t->items.push_back(std::move(e));
      while (skip_op(",")) {
        if (is_op(")")) break;
        t->items.push_back(parse_expression());
      }
      e = std::move(t);
    }
    expect_op(")");
    return e;
  }
  if (skip_op("[")) {
    auto l = node(EK::List);
    while (!skip_op("]")) {
      if (!l->items.empty()) expect_op(",");
      if (skip_op("]")) break;
      l->items.push_back(parse_expression());
    }
    return l;
  }
  if (skip_op("{")) {
    auto d = node(EK::Dict);
    while (!skip_op("}")) {
      if (!d->items.empty()) expect_op(",");
      if (skip_op("}")) break;
      d->items.push_back(parse_expression());
      expect_op(":");
      d->items.push_back(parse_expression());
    }
    return d;
  }
  error("unexpected " + describe());
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
  DepthRestore restore(*this);
  while (true) {
    if (is_op(".") || is_op("[") || is_op("(")) chain_step();
    if (is_op(".")) {
      ++i_;
      if (cur().type == Tok::Int) {
        auto n = node(EK::Item);
        n->a = std::move(e);
        n->b = node(EK::Literal);
        errno = 0;
        const long long index = std::strtoll(cur().text.c_str(), nullptr, 10);
        if (errno == ERANGE) error("integer too large: " + cur().text);
        n->b->value = Value::integer(index);
        ++i_;
        e = std::move(n);
      } else {
        auto n = node(EK::Attr);
        n->a = std::move(e);
        n->name = expect_name();
        e = std::move(n);
      }
    } else if (is_op("[")) {
      ++i_;
      e = parse_subscript(std::move(e));
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr obj) {
  ExprPtr parts[3];
  int n_colons = 0;
  if (!is_op(":")) parts[0] = parse_expression();
  if (!is_op(":")) {
    expect_op("]");
    auto n = node(EK::Item);
    n->a = std::move(obj);
    n->b = std::move(parts[0]);
    return n;
  }
  while (skip_op(":") && n_colons < 2) {
    ++n_colons;
    if (!is_op(":") && !is_op("]")) parts[n_colons] = parse_expression();
  }
  expect_op("]");
  auto n = node(EK::Slice);
  n->a = std::move(obj);
  for (auto& p : parts) n->items.push_back(std::move(p));
  return n;
}

void Parser::parse_args(Expr& n) {
  expect_op("(");
  bool first = true;
  while (!skip_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (skip_op(")")) break;
    if (is_op("*") || is_op("**")) error("*args and **kwargs calls are not supported");
    if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
      std::string k = t_[i_].text;
      i_ += 2;
      n.kwargs.emplace_back(std::move(k), parse_expression());
    } else {
      if (!n.kwargs.empty()) error("positional argument follows keyword argument");
      n.items.push_back(parse_expression());
    }
  }
}

ExprPtr Parser::parse_call(ExprPtr callee) {
  auto n = node(EK::Call);
  n->a = std::move(callee);
  parse_args(*n);
  return n;
}

std::string Parser::parse_dotted_name() {
  std::string name = expect_name();
  while (is_op(".") && peek().type == Tok::Name) {
    ++i_;
    name += '.';
    name += expect_name();
  }
  return name;
}

ExprPtr Parser::parse_filter_chain(ExprPtr subject) {
  DepthRestore restore(*this);
  bool first = !subject;
  while (first || is_op("|")) {
    chain_step();
    if (!first) ++i_;
    first = false;
    auto f = node(EK::Filter);
    f->a = std::move(subject);
    f->name = parse_dotted_name();
    if (is_op("(")) parse_args(*f);
    subject = std::move(f);
  }
  return subject;
}

ExprPtr Parser::parse_filter_expr(ExprPtr e) {
  DepthRestore restore(*this);
  while (true) {
    if (is_op("|") || is_name("is") || is_op("(")) chain_step();
    if (is_op("|")) {
      e = parse_filter_chain(std::move(e));
    } else if (is_name("is")) {
      ++i_;
      auto t = node(EK::Test);
      t->negated = skip_name("not");
      t->a = std::move(e);
      t->name = parse_dotted_name();
      if (is_op("(")) {
        parse_args(*t);
      } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                  cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
                 !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) error("You cannot chain multiple tests with is");
        t->items.push_back(parse_postfix(parse_primary()));
      }
      e = std::move(t);
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

}  // namespace hearth::chat::detail
