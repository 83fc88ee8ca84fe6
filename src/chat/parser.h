// Internal: the recursive-descent parser shared by parser.cpp (statements)
// and parse_expr.cpp (expressions), with Jinja2's grammar and precedence:
// cond-expr < or < and < not < compare < + - < ~ < * / // % < ** < unary,
// where filters (|), tests (is) and calls bind to the unary operand.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace hearth::chat::detail {

// Bounds the syntax tree's depth (nested expressions, operator chains and
// nested blocks), so evaluating and freeing it cannot exhaust the stack.
constexpr int kMaxParseDepth = 256;

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
  // One more level of nesting for a node built in an operator/postfix chain;
  // the caller restores depth_ when the chain ends.
  void chain_step() {
    if (++depth_ > kMaxParseDepth) error("expression nested too deeply");
  }
  struct DepthRestore {
    Parser& p;
    int saved;
    explicit DepthRestore(Parser& parser) : p(parser), saved(parser.depth_) {}
    ~DepthRestore() { p.depth_ = saved; }
  };
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxParseDepth) p.error("expression nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // statements (parser.cpp)
  Body parse_body(std::initializer_list<std::string_view> ends, std::string* found);
  std::unique_ptr<Stmt> parse_statement();
  void parse_if(Stmt& s);
  std::vector<std::string> parse_targets();
  void parse_for(Stmt& s);
  void parse_set(Stmt& s);
  void parse_params(std::vector<Param>& params);
  void parse_macro(Stmt& s);
  void parse_call_block(Stmt& s);

  // expressions (parse_expr.cpp)
  ExprPtr parse_tuple(bool with_condexpr = true);
  ExprPtr parse_expression();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr binary(Op op, ExprPtr l, ExprPtr r);
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr obj);
  void parse_args(Expr& n);
  ExprPtr parse_call(ExprPtr callee);
  std::string parse_dotted_name();
  ExprPtr parse_filter_chain(ExprPtr subject);
  ExprPtr parse_filter_expr(ExprPtr e);
};

}  // namespace hearth::chat::detail
