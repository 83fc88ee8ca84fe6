// The interpreter state of one render: scopes, output buffer and the sandbox
// budget. Filters, tests, methods and globals (filters.cpp, tests.cpp,
// methods.cpp, builtins.cpp) receive it to build values and call back into
// templates (macros passed to map(), caller()).
#pragma once

#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace hearth::chat::detail {

enum class Flow : std::uint8_t { Normal, Break, Continue };

class Interp {
 public:
  Interp(const RenderLimits& limits, std::tm now);
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  // Renders `program` with `vars` (a Dict value) as the template's variables.
  std::string run(const Program& program, const Value& vars);

  // ---- budget ----
  void step() { steps(1); }
  // Work inside one builtin that grows with its input (comparisons in `in`,
  // unique, list.index; elements moved by list.insert): counted as steps, so
  // that a loop over such calls cannot run quadratic time under the limit.
  void steps(std::uint64_t n) {
    steps_ += n;
    if (steps_ > limits_.max_steps)
      fail("SecurityError: template exceeded " + std::to_string(limits_.max_steps) +
           " evaluation steps");
    // The stack grows down from where run() began.
    const char* here = static_cast<const char*>(__builtin_frame_address(0));
    if (stack_base_ && stack_base_ > here &&
        static_cast<std::size_t>(stack_base_ - here) > limits_.max_stack_bytes)
      fail("RecursionError: template nesting uses more than " +
           std::to_string(limits_.max_stack_bytes) + " bytes of stack");
  }
  // Accounts `bytes` of newly built data; throws when one value exceeds
  // max_value_bytes or all of them together exceed max_alloc_bytes.
  void charge(std::size_t bytes);
  const RenderLimits& limits() const { return limits_; }
  const std::tm& now() const { return now_; }

  // ---- value construction (charged and tracked) ----
  Value str(std::string s) {
    charge(s.size());
    return Value::string(std::move(s));
  }
  Value list(List items, Kind kind = Kind::List);
  Value dict(Kind kind = Kind::Dict);
  Value callable(std::string name, std::function<Value(Interp&, Args&)> fn);

  // ---- operations shared with filters ----
  Value call(const Value& fn, Args& args);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  // Elements as Python iterates them: list items, dict keys, string characters.
  List iterate(const Value& v);
  bool contains(const Value& container, const Value& item);
  Value binary(Op op, const Value& a, const Value& b);

 private:
  struct Frame {
    std::vector<std::pair<std::string, Value>> vars;
  };

  RenderLimits limits_;
  std::tm now_;
  std::uint64_t steps_ = 0;
  const char* stack_base_ = nullptr;
  std::uint64_t allocated_ = 0;
  int call_depth_ = 0;
  std::vector<Frame> frames_;  // frames_[0]: template level; macro calls hide frames below base_
  std::size_t base_ = 0;
  Value globals_;
  std::string* out_ = nullptr;
  // Every list and dict built, cleared at the end so that reference cycles
  // (a list appended to itself, ns.x = ns) and deep nesting free safely.
  std::vector<std::shared_ptr<void>> containers_;
  std::vector<Kind> container_kinds_;

  Value lookup(const std::string& name);
  void assign(const std::string& name, Value v);
  void emit(const Value& v);
  void check_output(const std::string& buf);

  Flow exec_body(const Body& body);
  Flow exec(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Stmt& s);
  Value eval(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_compare(const Expr& e);
  void eval_args(const Expr& e, Args& args);
  Value apply_filter_node(const Expr& e, Value subject);
  std::string capture(const Body& body);
  Value make_macro(const Stmt& s);
  Value call_macro(const Stmt& s, Args& args, const Value* caller);
  void bind_targets(const std::vector<std::string>& targets, const Value& v);
  friend struct CallerScope;
};

// filters.cpp / tests.cpp / methods.cpp / builtins.cpp
Value apply_filter(Interp& in, const std::string& name, const Value& subject, Args& args);
bool apply_test(Interp& in, const std::string& name, const Value& subject, Args& args);
bool has_method(const Value& obj, const std::string& name);
Value call_method(Interp& in, const Value& obj, const std::string& name, Args& args);
Value make_globals(Interp& in);
// Python's json.dumps (json.cpp): indent < 0 means none.
std::string to_json(Interp& in, const Value& v, bool ensure_ascii, int indent,
                    const std::string& item_sep, const std::string& key_sep, bool sort_keys);
// obj[start:stop:step]; none parts take Python's defaults.
Value slice(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
std::string py_format(Interp& in, const std::string& fmt, const Value& args);
std::string py_strftime(const std::tm& tm, const std::string& fmt);

}  // namespace hearth::chat::detail
