// Executes statements and evaluates expressions of a parsed template, with
// Jinja2's scoping: for loops, macros and with-blocks open a scope; `set`
// writes to the innermost one (hence namespace() for state that must outlive
// a loop iteration's scope).
#include <algorithm>

#include "chat/interp.h"

namespace hearth::chat::detail {

// What one list or dict costs beyond its items (control block, vector, registry
// slot), charged so that many empty containers also count against the budget.
constexpr std::size_t kContainerOverhead = 96;

Interp::Interp(const RenderLimits& limits, std::tm now) : limits_(limits), now_(now) {}

Interp::~Interp() {
  // Break cycles and nesting: empty every container while all are still alive.
  for (std::size_t k = 0; k < containers_.size(); ++k) {
    if (container_kinds_[k] == Kind::List)
      static_cast<List*>(containers_[k].get())->clear();
    else
      static_cast<Dict*>(containers_[k].get())->items.clear();
  }
}

void Interp::charge(std::size_t bytes) {
  if (bytes > limits_.max_value_bytes)
    fail("SecurityError: a value of " + std::to_string(bytes) + " bytes exceeds the limit of " +
         std::to_string(limits_.max_value_bytes));
  allocated_ += bytes;
  if (allocated_ > limits_.max_alloc_bytes)
    fail("SecurityError: template built more than " + std::to_string(limits_.max_alloc_bytes) +
         " bytes of data");
}

Value Interp::list(List items, Kind kind) {
  charge(items.size() * sizeof(Value) + kContainerOverhead);
  Value v;
  v.kind = kind;
  v.p = std::make_shared<List>(std::move(items));
  containers_.push_back(v.p);
  container_kinds_.push_back(Kind::List);
  return v;
}

Value Interp::dict(Kind kind) {
  charge(kContainerOverhead);
  Value v;
  v.kind = kind;
  v.p = std::make_shared<Dict>();
  containers_.push_back(v.p);
  container_kinds_.push_back(Kind::Dict);
  return v;
}

Value Interp::callable(std::string name, std::function<Value(Interp&, Args&)> fn) {
  Value v;
  v.kind = Kind::Callable;
  v.p = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

std::string Interp::run(const Program& program, const Value& vars) {
  stack_base_ = static_cast<const char*>(__builtin_frame_address(0));
  globals_ = make_globals(*this);
  frames_.clear();
  frames_.emplace_back();
  for (auto& [k, v] : vars.dict().items) frames_[0].vars.emplace_back(to_str(k), v);
  std::string out;
  out_ = &out;
  exec_body(program.body);
  out_ = nullptr;
  return out;
}

Value Interp::lookup(const std::string& name) {
  for (std::size_t k = frames_.size(); k-- > base_;) {
    for (auto& [n, v] : frames_[k].vars)
      if (n == name) return v;
    if (k == 0) break;
  }
  if (base_ > 0)
    for (auto& [n, v] : frames_[0].vars)
      if (n == name) return v;
  if (Value* g = globals_.dict().find(std::string_view(name))) return *g;
  return Value::undefined(name);
}

void Interp::assign(const std::string& name, Value v) {
  auto& vars = frames_.back().vars;
  for (auto& [n, x] : vars)
    if (n == name) {
      x = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

void Interp::check_output(const std::string& buf) {
  if (buf.size() > limits_.max_output_bytes)
    fail("SecurityError: template output exceeds " + std::to_string(limits_.max_output_bytes) +
         " bytes");
}

void Interp::emit(const Value& v) {
  append_str(*out_, v);
  check_output(*out_);
}

std::string Interp::capture(const Body& body) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec_body(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  charge(buf.size());
  return buf;
}

Flow Interp::exec_body(const Body& body) {
  for (const auto& s : body) {
    Flow f = exec(*s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

void Interp::bind_targets(const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    assign(targets[0], v);
    return;
  }
  List items = iterate(v);
  if (items.size() != targets.size())
    fail("ValueError: cannot unpack " + std::to_string(items.size()) + " values into " +
         std::to_string(targets.size()) + " names");
  for (std::size_t k = 0; k < targets.size(); ++k) assign(targets[k], items[k]);
}

Flow Interp::exec(const Stmt& s) {
  step();
  try {
    switch (s.kind) {
      case SK::Text:
        out_->append(s.text);
        check_output(*out_);
        return Flow::Normal;
      case SK::Emit:
        emit(eval(*s.expr));
        return Flow::Normal;
      case SK::If:
        for (const auto& [cond, body] : s.branches)
          if (truthy(eval(*cond))) return exec_body(body);
        return exec_body(s.else_body);
      case SK::For:
        return exec_for(s);
      case SK::Set:
        exec_set(s);
        return Flow::Normal;
      case SK::SetBlock: {
        Value v = str(capture(s.body));
        if (s.expr) v = apply_filter_node(*s.expr, v);
        if (!s.attr.empty()) {
          Value ns = lookup(s.targets[0]);
          if (ns.kind != Kind::Namespace)
            fail("TemplateRuntimeError: cannot assign attribute on non-namespace object");
          ns.dict().set(Value::string(s.attr), v);
        } else {
          bind_targets(s.targets, v);
        }
        return Flow::Normal;
      }
      case SK::Macro:
        assign(s.name, make_macro(s));
        return Flow::Normal;
      case SK::CallBlock: {
        const Stmt* self = &s;
        // The caller body sees the call site's variables: snapshot them.
        std::vector<Frame> site(frames_.begin() + static_cast<std::ptrdiff_t>(base_),
                                frames_.end());
        Value caller = callable("caller", [self, site](Interp& in, Args& args) -> Value {
          std::size_t saved_base = in.base_;
          std::size_t old_size = in.frames_.size();
          for (const Frame& f : site) in.frames_.push_back(f);
          in.frames_.emplace_back();
          in.base_ = old_size;
          for (std::size_t k = 0; k < self->params.size(); ++k) {
            Value v = args.get(k, self->params[k].name);
            if (v.is_undefined() && self->params[k].default_value)
              v = in.eval(*self->params[k].default_value);
            in.assign(self->params[k].name, v);
          }
          std::string text;
          try {
            text = in.capture(self->body);
          } catch (...) {
            in.frames_.resize(old_size);
            in.base_ = saved_base;
            throw;
          }
          in.frames_.resize(old_size);
          in.base_ = saved_base;
          return Value::string(std::move(text));
        });
        const Expr& call = *s.expr;
        Value fn = eval(*call.a);
        Args args;
        eval_args(call, args);
        args.kw.emplace_back("caller", caller);
        emit(this->call(fn, args));
        return Flow::Normal;
      }
      case SK::FilterBlock: {
        Value v = str(capture(s.body));
        emit(apply_filter_node(*s.expr, v));
        return Flow::Normal;
      }
      case SK::With: {
        std::vector<Value> vals;
        for (const auto& p : s.params) vals.push_back(eval(*p.default_value));
        frames_.emplace_back();
        for (std::size_t k = 0; k < vals.size(); ++k) assign(s.params[k].name, vals[k]);
        Flow f;
        try {
          f = exec_body(s.body);
        } catch (...) {
          frames_.pop_back();
          throw;
        }
        frames_.pop_back();
        return f;
      }
      case SK::Break:
        return Flow::Break;
      case SK::Continue:
        return Flow::Continue;
    }
  } catch (const TemplateError& e) {
    std::string msg = e.what();
    if (s.line > 0 && msg.find("(line ") == std::string::npos)
      throw TemplateError(msg + " (line " + std::to_string(s.line) + ")");
    throw;
  }
  return Flow::Normal;
}

void Interp::exec_set(const Stmt& s) {
  Value v = eval(*s.expr);
  if (!s.attr.empty()) {
    Value ns = lookup(s.targets[0]);
    if (ns.kind != Kind::Namespace)
      fail("TemplateRuntimeError: cannot assign attribute on non-namespace object");
    ns.dict().set(Value::string(s.attr), std::move(v));
    return;
  }
  bind_targets(s.targets, v);
}

Flow Interp::exec_for(const Stmt& s) {
  Value seq = eval(*s.expr);
  List items = iterate(seq);
  frames_.emplace_back();
  const std::size_t frame = frames_.size() - 1;
  auto pop = [&] { frames_.resize(frame); };
  try {
    if (s.cond) {  // {% for x in xs if cond %}: filter first, so loop.length counts the kept
      List kept;
      for (const Value& it : items) {
        bind_targets(s.targets, it);
        if (truthy(eval(*s.cond))) kept.push_back(it);
      }
      items = std::move(kept);
    }
    const std::int64_t n = static_cast<std::int64_t>(items.size());
    Value loop = dict(Kind::Namespace);
    auto index0 = std::make_shared<std::int64_t>(0);
    Value cycle = callable("cycle", [index0](Interp&, Args& args) -> Value {
      if (args.pos.empty()) fail("TypeError: no items for cycling given");
      return args.pos[static_cast<std::size_t>(*index0) % args.pos.size()];
    });
    auto& slots = loop.dict().items;
    const char* names[] = {"index",  "index0", "revindex", "revindex0", "first",    "last",
                           "length", "depth",  "depth0",   "previtem",  "nextitem", "cycle"};
    for (const char* nm : names) slots.emplace_back(Value::string(nm), Value());
    slots[6].second = Value::integer(n);
    slots[7].second = Value::integer(1);
    slots[8].second = Value::integer(0);
    slots[11].second = cycle;
    for (std::int64_t k = 0; k < n; ++k) {
      step();
      frames_[frame].vars.clear();  // Jinja2: each iteration starts from the outer scope
      *index0 = k;
      slots[0].second = Value::integer(k + 1);
      slots[1].second = Value::integer(k);
      slots[2].second = Value::integer(n - k);
      slots[3].second = Value::integer(n - k - 1);
      slots[4].second = Value::boolean(k == 0);
      slots[5].second = Value::boolean(k == n - 1);
      slots[9].second = k > 0 ? items[k - 1] : Value::undefined("loop.previtem");
      slots[10].second = k + 1 < n ? items[k + 1] : Value::undefined("loop.nextitem");
      bind_targets(s.targets, items[k]);
      assign("loop", loop);
      Flow f = exec_body(s.body);
      if (f == Flow::Break) break;
    }
    if (n == 0) {
      pop();
      return exec_body(s.else_body);
    }
  } catch (...) {
    pop();
    throw;
  }
  pop();
  return Flow::Normal;
}

Value Interp::make_macro(const Stmt& s) {
  const Stmt* m = &s;
  return callable(s.name, [m](Interp& in, Args& args) -> Value {
    const Value* caller = nullptr;
    Value caller_value;
    for (auto it = args.kw.begin(); it != args.kw.end(); ++it)
      if (it->first == "caller") {
        caller_value = it->second;
        caller = &caller_value;
        args.kw.erase(it);
        break;
      }
    return in.call_macro(*m, args, caller);
  });
}

Value Interp::call_macro(const Stmt& m, Args& args, const Value* caller) {
  if (call_depth_ >= limits_.max_call_depth)
    fail("RecursionError: macro calls nested deeper than " +
         std::to_string(limits_.max_call_depth));
  if (args.pos.size() > m.params.size() && !m.uses_varargs)
    fail("TypeError: macro '" + m.name + "' takes not more than " +
         std::to_string(m.params.size()) + " argument(s)");
  for (const auto& kw : args.kw) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const auto& k = kw.first;
    bool known =
        std::any_of(m.params.begin(), m.params.end(), [&](const Param& p) { return p.name == k; });
    if (!known && !m.uses_kwargs)
      fail("TypeError: macro '" + m.name + "' takes no keyword argument '" + k + "'");
  }
  const std::size_t saved_base = base_;
  const std::size_t old_size = frames_.size();
  frames_.emplace_back();
  base_ = old_size;
  ++call_depth_;
  std::string text;
  try {
    for (std::size_t k = 0; k < m.params.size(); ++k) {
      const Param& p = m.params[k];
      Value v;
      bool given = false;
      for (const auto& kv : args.kw)
        if (kv.first == p.name) {
          v = kv.second;
          given = true;
        }
      if (!given && k < args.pos.size()) {
        v = args.pos[k];
        given = true;
      }
      if (!given) v = p.default_value ? eval(*p.default_value) : Value::undefined(p.name);
      assign(p.name, v);
    }
    if (caller) assign("caller", *caller);
    if (m.uses_varargs) {
      List extra;
      for (std::size_t k = m.params.size(); k < args.pos.size(); ++k) extra.push_back(args.pos[k]);
      assign("varargs", list(std::move(extra), Kind::Tuple));
    }
    if (m.uses_kwargs) {
      Value kw = dict();
      for (const auto& [name, v] : args.kw) {
        const std::string& k = name;  // clang 14 (the fuzz build) cannot capture a binding
        bool known = std::any_of(m.params.begin(), m.params.end(),
                                 [&](const Param& p) { return p.name == k; });
        if (!known) kw.dict().set(Value::string(k), v);
      }
      assign("kwargs", kw);
    }
    text = capture(m.body);
  } catch (...) {
    frames_.resize(old_size);
    base_ = saved_base;
    --call_depth_;
    throw;
  }
  frames_.resize(old_size);
  base_ = saved_base;
  --call_depth_;
  return Value::string(std::move(text));
}

void Interp::eval_args(const Expr& e, Args& args) {
  args.pos.reserve(e.items.size());
  for (const auto& a : e.items) args.pos.push_back(eval(*a));
  for (const auto& [k, v] : e.kwargs) args.kw.emplace_back(k, eval(*v));
}

Value Interp::call(const Value& fn, Args& args) {
  if (fn.kind == Kind::Callable) return fn.fn().call(*this, args);
  if (fn.is_undefined()) fail("UndefinedError: '" + fn.undefined_hint() + "' is undefined");
  fail(std::string("TypeError: '") + type_name(fn) + "' object is not callable");
}

Value Interp::eval_call(const Expr& e) {
  Args args;
  if (e.a->kind == EK::Attr) {  // method call: obj.name(args) without a bound-method object
    Value obj = eval(*e.a->a);
    if (has_method(obj, e.a->name)) {
      eval_args(e, args);
      return call_method(*this, obj, e.a->name, args);
    }
    Value fn = get_attr(obj, e.a->name);
    eval_args(e, args);
    return call(fn, args);
  }
  Value fn = eval(*e.a);
  eval_args(e, args);
  return call(fn, args);
}

Value Interp::apply_filter_node(const Expr& e, Value subject) {
  // A chain a|f|g is nested Filter nodes; the innermost has a == null inside
  // {% filter %} and {% set x | f %} blocks, where `subject` is the block text.
  Value in = !e.a                      ? std::move(subject)
             : e.a->kind == EK::Filter ? apply_filter_node(*e.a, std::move(subject))
                                       : eval(*e.a);
  Args args;
  eval_args(e, args);
  return apply_filter(*this, e.name, in, args);
}

Value Interp::eval_compare(const Expr& e) {
  Value left = eval(*e.a);
  for (std::size_t k = 0; k < e.ops.size(); ++k) {
    Value right = eval(*e.items[k]);
    bool r;
    switch (e.ops[k]) {
      case Op::Eq:
        r = equals(left, right);
        break;
      case Op::Ne:
        r = !equals(left, right);
        break;
      case Op::Lt:
        r = less(left, right);
        break;
      case Op::Le:
        r = !less(right, left);
        break;
      case Op::Gt:
        r = less(right, left);
        break;
      case Op::Ge:
        r = !less(left, right);
        break;
      case Op::In:
        r = contains(right, left);
        break;
      default:
        r = !contains(right, left);
        break;
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interp::eval(const Expr& e) {
  step();
  switch (e.kind) {
    case EK::Literal:
      return e.value;
    case EK::Name:
      return lookup(e.name);
    case EK::List:
    case EK::Tuple: {
      List items;
      items.reserve(e.items.size());
      for (const auto& x : e.items) items.push_back(eval(*x));
      return list(std::move(items), e.kind == EK::List ? Kind::List : Kind::Tuple);
    }
    case EK::Dict: {
      Value d = dict();
      for (std::size_t k = 0; k + 1 < e.items.size(); k += 2) {
        Value key = eval(*e.items[k]);
        d.dict().set(std::move(key), eval(*e.items[k + 1]));
      }
      charge(e.items.size() * sizeof(Value));
      return d;
    }
    case EK::Attr:
      return get_attr(eval(*e.a), e.name);
    case EK::Item: {
      Value obj = eval(*e.a);
      return get_item(obj, eval(*e.b));
    }
    case EK::Slice: {
      Value obj = eval(*e.a);
      Value parts[3];
      for (int k = 0; k < 3; ++k) parts[k] = e.items[k] ? eval(*e.items[k]) : Value::none();
      return slice(*this, obj, parts[0], parts[1], parts[2]);
    }
    case EK::Call:
      return eval_call(e);
    case EK::Filter:
      return apply_filter_node(e, Value());
    case EK::Test: {
      Value v = eval(*e.a);
      Args args;
      eval_args(e, args);
      bool r = apply_test(*this, e.name, v, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case EK::Neg:
    case EK::Pos: {
      Value v = eval(*e.a);
      if (v.kind == Kind::Float) return Value::number(e.kind == EK::Neg ? -v.f : v.f);
      if (v.is_int()) {
        std::int64_t x = v.as_int();
        if (e.kind == EK::Pos) return Value::integer(x);
        if (x == INT64_MIN) fail("OverflowError: integer overflow");
        return Value::integer(-x);
      }
      if (v.is_undefined()) fail("UndefinedError: '" + v.undefined_hint() + "' is undefined");
      fail(std::string("TypeError: bad operand type for unary ") + (e.kind == EK::Neg ? "-" : "+") +
           ": '" + type_name(v) + "'");
    }
    case EK::Not:
      return Value::boolean(!truthy(eval(*e.a)));
    case EK::And: {
      Value l = eval(*e.a);
      return truthy(l) ? eval(*e.b) : l;
    }
    case EK::Or: {
      Value l = eval(*e.a);
      return truthy(l) ? l : eval(*e.b);
    }
    case EK::Binary: {
      Value l = eval(*e.a);
      return binary(e.op, l, eval(*e.b));
    }
    case EK::Compare:
      return eval_compare(e);
    case EK::Cond:
      if (truthy(eval(*e.a))) return eval(*e.b);
      return e.c ? eval(*e.c) : Value::undefined("inline if expression");
  }
  return Value();
}

}  // namespace hearth::chat::detail
