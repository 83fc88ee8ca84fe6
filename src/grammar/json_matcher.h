// Internal to src/grammar: the compiled form of a JSON schema (Grammar) and the
// byte-level pushdown matcher that runs it (Machine). json_constraint.h is the
// module's contract; this header is shared by its sources and tests.
//
// The matcher is nondeterministic only where the schema is (anyOf, type
// arrays, "any value"): a State is a small set of stacks, each an explicit
// vector of Frames, so nesting in the generated text never becomes C++
// recursion. Every stack is bounded by kMaxStack frames, and a value is only
// started when it can still be completed within that bound (Node::min_depth),
// so every state the matcher accepts can be completed into a valid document.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::grammar::detail {

inline constexpr uint32_t kMaxStack = 128;  // frames per stack, the root frame included
inline constexpr uint32_t kMaxStacks = 64;  // alternatives kept per state
inline constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
inline constexpr uint32_t kNoNode = std::numeric_limits<uint32_t>::max();

enum class Kind : uint8_t { Object, Array, String, Integer, Number, Literals, Union };

struct Property {
  std::string key;  // the key as JSON text, quotes included ("\"name\"")
  uint32_t value;   // node of the value
  bool required;
};

struct Node {
  Kind kind = Kind::Union;
  uint32_t min_depth = kUnbounded;  // frames a value of this node needs at least

  // Object: declared properties in the order they must appear; next_required[i]
  // is the first required index >= i (props.size() when none). extra: node of
  // additional property values (kNoNode: none). Keys of additional properties
  // never equal a declared key, and use escapes only when nothing is declared.
  std::vector<Property> props;
  std::vector<uint32_t> next_required;
  uint32_t extra = kNoNode;

  // Array
  uint32_t items = kNoNode;
  uint32_t min_items = 0, max_items = kUnbounded;

  // String: length in code points
  uint32_t min_len = 0, max_len = kUnbounded;

  // Integer: the value's range. Number with bounded = true: the range of its
  // integer part, a fraction only where every value it can reach lies within
  // [a, b] (no exponent); unbounded numbers: any JSON number.
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  bool bounded = false;
  long double a = -std::numeric_limits<long double>::infinity();
  long double b = std::numeric_limits<long double>::infinity();
  bool a_exclusive = false, b_exclusive = false;

  // Literals: the JSON texts of the allowed values, sorted and unique (enum,
  // const, true/false/null).
  std::vector<std::string> literals;

  // Union: the alternatives; after Grammar::finish, flattened (no unions).
  std::vector<uint32_t> alts;
};

struct Grammar {
  std::vector<Node> nodes;
  uint32_t root = kNoNode;

  uint32_t add(Node n) {
    nodes.push_back(std::move(n));
    return static_cast<uint32_t>(nodes.size() - 1);
  }
  // Flattens unions and computes min_depth; false when the root has no value
  // that fits kMaxStack (e.g. a required property that recurses forever).
  bool finish();
};

inline constexpr uint32_t kRootNode = kNoNode;  // Frame::node of the bottom frame

// One level of the pushdown stack. Fields are used per node kind (see
// json_matcher.cpp); all are compared by ==, so unused ones stay zero.
struct Frame {
  uint32_t node = 0;
  uint8_t phase = 0;
  uint8_t ws = 0;     // whitespace bytes in the current gap
  uint8_t sub = 0;    // string lexer: 0 text, 1 after '\', 2 \u digits, 3 UTF-8 continuation
  uint8_t need = 0;   // string lexer: hex digits / continuation bytes still expected
  uint8_t lo8 = 0;    // string lexer: range of the next continuation byte
  uint8_t hi8 = 0;    //   (lo8 = 1 after \uD: the next hex digit must be 0-7)
  uint8_t flags = 0;  // number: negative, ...; object key: free key still possible
  uint8_t pad = 0;
  uint32_t count = 0;  // string: code points; array: items; object: next property; number: digits
  uint32_t cand = 0;   // object key: lowest declared candidate / chosen; literals: range begin
  uint32_t aux = 0;    // object key: lowest declared key equal so far; literals: range end
  uint32_t pos = 0;    // object key, literals: bytes matched
  uint64_t mag = 0;    // integer: magnitude so far
  bool operator==(const Frame&) const = default;
};

using Stack = std::vector<Frame>;

// A set of stacks; stacks[n..] are spare (kept for their capacity).
struct State {
  std::vector<Stack> stacks;
  size_t n = 0;
  size_t add() {
    if (n == stacks.size()) stacks.emplace_back();
    return n++;
  }
  void assign(const State& o) {  // copy without giving up capacity
    n = 0;
    for (size_t i = 0; i < o.n; ++i) stacks[add()] = o.stacks[i];
  }
};

// The code points of `piece` when all of it is string text that a string's
// lexer takes without leaving its text: no '"', '\\' or control byte, UTF-8
// valid and whole. 0 otherwise.
uint32_t plain_text_chars(std::string_view piece);

class Machine {
 public:
  explicit Machine(const Grammar& g) : g_(g) {}
  // The state before any byte: a document whose value is of node `root`, with
  // at most one space on either side.
  State initial(uint32_t root) const;
  // out = in after byte c; false (out empty) when no stack accepts c.
  bool advance(const State& in, uint8_t c, State& out) const;
  // The bytes so far are a whole document.
  bool complete(const State& s) const;
  // How many code points of plain text (plain_text_chars) the state takes in
  // a row: every stack is in a string's text, between characters, and the
  // most any of them has left before its maxLength (kUnbounded without one).
  // 0 when some stack is elsewhere: then bytes go through advance(). Such
  // text leaves every stack in its string, so mask() can judge a plain piece
  // by its length alone (most pieces, inside a string).
  uint32_t plain_run(const State& s) const;
  // Does `text` (no whitespace around it) match node `root`? For enum checks and tests.
  bool matches(uint32_t root, std::string_view text) const;

 private:
  enum class Step { Reject, Consumed, Done, PopRetry, PushRetry };
  Step step(Stack& s, uint8_t c, uint32_t& child) const;
  bool run(State& out, size_t k, uint8_t c) const;
  bool frame_complete(const Frame& f) const;
  const Grammar& g_;
};

}  // namespace hearth::grammar::detail
