// Recursive-descent parser with Jinja2's grammar and operator precedence:
// cond-expr < or < and < not < compare < + - < ~ < * / // % < ** < unary,
// where filters (|), tests (is) and calls bind to the unary operand.
#include <string_view>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace hearth::chat::detail {

namespace {

constexpr int kMaxParseDepth = 128;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  std::shared_ptr<Program> run() {
    auto prog = std::make_shared<Program>();
    prog->body = parse_body({}, nullptr);
    return prog;
  }

 private:
  std::vector<Token> t_;
  std::size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  const Token& cur() const { return t_[i_]; }
  const Token& peek(std::size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  [[noreturn]] void error(const std::string& msg) const {
    fail("TemplateSyntaxError: " + msg + " (line " + std::to_string(cur().line) + ")");
  }
  bool is_op(std::string_view op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == Tok::Name && cur().text == n; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    ++i_;
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    ++i_;
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) error("expected '" + std::string(op) + "', got " + describe());
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) error("expected a name, got " + describe());
    return t_[i_++].text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) error("expected end of statement block, got " + describe());
    ++i_;
  }
  std::string describe() const {
    switch (cur().type) {
      case Tok::BlockEnd:
        return "end of statement block";
      case Tok::VarEnd:
        return "end of print statement";
      case Tok::Eof:
        return "end of template";
      case Tok::String:
        return "string";
      default:
        return "'" + cur().text + "'";
    }
  }
  ExprPtr node(EK k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = cur().line;
    return e;
  }
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxParseDepth) p.error("expression nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // ---- statements ----

  Body parse_body(std::initializer_list<std::string_view> ends, std::string* found) {
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

  std::unique_ptr<Stmt> parse_statement() {
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

  void parse_if(Stmt& s) {
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

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (!names.empty() && (is_name("in") || is_op("=") || is_op(")"))) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  void parse_for(Stmt& s) {
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

  void parse_set(Stmt& s) {
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
    if (is_op("|")) s.expr = parse_filter_chain(nullptr);
    expect_block_end();
    s.body = parse_body({"endset"}, nullptr);
    expect_block_end();
  }

  void parse_params(std::vector<Param>& params) {
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

  void parse_macro(Stmt& s) {
    s.kind = SK::Macro;
    s.name = expect_name();
    parse_params(s.params);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::size_t start = i_;
    s.body = parse_body({"endmacro"}, nullptr);
    for (std::size_t k = start; k < i_; ++k)
      if (t_[k].type == Tok::Name && t_[k].text == "caller") s.uses_caller = true;
    loop_depth_ = saved;
    if (cur().type == Tok::Name) ++i_;  // {% endmacro name %}
    expect_block_end();
  }

  void parse_call_block(Stmt& s) {
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

  // ---- expressions ----

  ExprPtr parse_tuple(bool with_condexpr = true) {
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

  ExprPtr parse_expression() {
    DepthGuard g(*this);
    ExprPtr e = parse_or();
    while (skip_name("if")) {
      auto c = node(EK::Cond);
      c->a = parse_or();
      c->b = std::move(e);
      if (skip_name("else")) c->c = parse_expression();
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (skip_name("or")) {
      auto n = node(EK::Or);
      n->a = std::move(e);
      n->b = parse_and();
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (skip_name("and")) {
      auto n = node(EK::And);
      n->a = std::move(e);
      n->b = parse_not();
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (skip_name("not")) {
      DepthGuard g(*this);
      auto n = node(EK::Not);
      n->a = parse_not();
      return n;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    ExprPtr cmp;
    while (true) {
      Op op;
      if (is_op("==")) op = Op::Eq;
      else if (is_op("!=")) op = Op::Ne;
      else if (is_op("<")) op = Op::Lt;
      else if (is_op("<=")) op = Op::Le;
      else if (is_op(">")) op = Op::Gt;
      else if (is_op(">=")) op = Op::Ge;
      else if (is_name("in")) op = Op::In;
      else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        op = Op::NotIn;
        ++i_;
      } else break;
      ++i_;
      if (!cmp) {
        cmp = node(EK::Compare);
        cmp->a = std::move(e);
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(e);
  }

  ExprPtr binary(Op op, ExprPtr l, ExprPtr r) {
    auto n = node(EK::Binary);
    n->op = op;
    n->a = std::move(l);
    n->b = std::move(r);
    return n;
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      Op op = cur().text == "+" ? Op::Add : Op::Sub;
      ++i_;
      e = binary(op, std::move(e), parse_concat());
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (skip_op("~")) e = binary(Op::Concat, std::move(e), parse_math2());
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string& t = cur().text;
      Op op = t == "*" ? Op::Mul : t == "/" ? Op::Div : t == "//" ? Op::FloorDiv : Op::Mod;
      ++i_;
      e = binary(op, std::move(e), parse_pow());
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (skip_op("**")) e = binary(Op::Pow, std::move(e), parse_unary(true));
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
    const Token& tok = cur();
    if (tok.type == Tok::Name) {
      const std::string& n = tok.text;
      auto lit = node(EK::Literal);
      if (n == "true" || n == "True") lit->value = Value::boolean(true);
      else if (n == "false" || n == "False") lit->value = Value::boolean(false);
      else if (n == "none" || n == "None") lit->value = Value::none();
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

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        ++i_;
        if (cur().type == Tok::Int) {
          auto n = node(EK::Item);
          n->a = std::move(e);
          n->b = node(EK::Literal);
          n->b->value = Value::integer(std::stoll(cur().text));
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

  ExprPtr parse_subscript(ExprPtr obj) {
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

  void parse_args(Expr& n) {
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

  ExprPtr parse_call(ExprPtr callee) {
    auto n = node(EK::Call);
    n->a = std::move(callee);
    parse_args(*n);
    return n;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek().type == Tok::Name) {
      ++i_;
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_filter_chain(ExprPtr subject) {
    bool first = !subject;
    while (first || is_op("|")) {
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

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
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
};

}  // namespace

std::shared_ptr<Program> parse(const std::string& source) {
  return Parser(tokenize(source)).run();
}

}  // namespace hearth::chat::detail
