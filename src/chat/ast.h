// Syntax tree of a parsed template. Nodes are plain structs evaluated by the
// interpreter (evaluator.cpp); one struct per category keeps it compact.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace hearth::chat::detail {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class EK : std::uint8_t {
  Literal,  // value
  Name,     // name
  List,     // items
  Tuple,    // items
  Dict,     // items: key, value, key, value, ...
  Attr,     // a.name
  Item,     // a[b]
  Slice,    // a[items[0]:items[1]:items[2]] (null parts allowed)
  Call,     // a(items..., kwargs...)
  Filter,   // a | name(items..., kwargs...); a is null inside {% filter %}
  Test,     // a is [not] name(items..., kwargs...)
  Neg,      // -a
  Pos,      // +a
  Not,      // not a
  And,      // a and b
  Or,       // a or b
  Binary,   // a op b (arithmetic and ~)
  Compare,  // a ops[0] items[0] ops[1] items[1] ... (chained)
  Cond,     // b if a else c
};

enum class Op : std::uint8_t {
  Add,
  Sub,
  Mul,
  Div,
  FloorDiv,
  Mod,
  Pow,
  Concat,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  In,
  NotIn,
};

struct Expr {
  EK kind;
  Op op = Op::Add;
  bool negated = false;  // Test: `is not`
  int line = 0;
  Value value;       // Literal
  std::string name;  // Name, Attr, Filter, Test
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<Op> ops;  // Compare
};

enum class SK : std::uint8_t {
  Text,         // text
  Emit,         // {{ expr }}
  If,           // branches (cond, body)...; else_body
  For,          // targets in expr [if cond] body [else else_body]
  Set,          // targets (or targets[0].attr) = expr
  SetBlock,     // {% set target %}body{% endset %}, optional filter expr
  Macro,        // name(params) body
  CallBlock,    // {% call(params) expr %}body
  FilterBlock,  // {% filter expr %}body
  With,         // {% with params %}body
  Break,
  Continue,
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null: none given
};

struct Stmt {
  SK kind;
  int line = 0;
  std::string text;  // Text
  ExprPtr expr;      // Emit, For (iterable), Set, CallBlock, FilterBlock/SetBlock filter
  ExprPtr cond;      // For's `if`
  std::vector<std::string> targets;                // For, Set, SetBlock
  std::string attr;                                // Set/SetBlock on targets[0].attr
  std::string name;                                // Macro
  std::vector<Param> params;                       // Macro, CallBlock, With
  std::vector<std::pair<ExprPtr, Body>> branches;  // If
  Body body, else_body;
  bool recursive = false;     // For
  bool uses_caller = false;   // Macro: body mentions `caller`
  bool uses_varargs = false;  // Macro: body mentions `varargs` (extra positional arguments)
  bool uses_kwargs = false;   // Macro: body mentions `kwargs` (extra keyword arguments)
};

struct Program {
  Body body;
};

// Parses a token stream into a Program. Throws TemplateError
// ("TemplateSyntaxError: ... (line N)").
std::shared_ptr<Program> parse(const std::string& source);

}  // namespace hearth::chat::detail
