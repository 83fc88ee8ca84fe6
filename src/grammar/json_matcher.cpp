#include "grammar/json_matcher.h"

#include <algorithm>
#include <utility>

namespace hearth::grammar::detail {
namespace {

// Phases of each frame kind.
enum : uint8_t { kRootBefore = 0, kRootAfter = 1 };
enum : uint8_t {
  kObjOpen = 0,   // expects '{'
  kObjFirst = 1,  // after '{': a key or '}'
  kObjKey = 2,    // inside a key
  kObjColon = 3,  // after a key
  kObjValue = 4,  // after ':'
  kObjAfter = 5,  // after a value: ',' or '}'
  kObjNext = 6,   // after ',': a key
};
enum : uint8_t { kArrOpen = 0, kArrFirst = 1, kArrAfter = 2, kArrNext = 3 };
enum : uint8_t { kStrOpen = 0, kStrBody = 1 };
enum : uint8_t {
  kNumStart = 0,
  kNumSign = 1,   // after '-'
  kNumInt = 2,    // in the integer part
  kNumDot = 3,    // after '.'
  kNumFrac = 4,   // in the fraction
  kNumE = 5,      // after 'e'
  kNumESign = 6,  // after the exponent's sign
  kNumExp = 7,    // in the exponent
};
// Frame::flags
enum : uint8_t {
  kNeg = 1,       // number: negative
  kZero = 2,      // number: the integer part is a leading 0
  kFreeKey = 4,   // object key: an additional (undeclared) key is still possible
  kRootNoWs = 8,  // root: no whitespace around the value
};
// Unbounded numbers: at most this many digits (so that every number parses to
// a finite double: nlohmann::json rejects overflowing ones).
constexpr uint32_t kMaxIntDigits = 16, kMaxFracDigits = 32, kMaxExpDigits = 2;

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// One byte of string content (after the opening quote).
enum class Lex { Reject, Char, Cont, Close };
Lex string_byte(Frame& f, uint8_t c, bool escapes) {
  switch (f.sub) {
    case 0:
      if (c == '"') return Lex::Close;
      if (c < 0x20) return Lex::Reject;
      if (c == '\\') {
        if (!escapes) return Lex::Reject;
        f.sub = 1;
        return Lex::Char;
      }
      if (c < 0x80) return Lex::Char;
      // UTF-8 lead byte: shortest forms only, no surrogates, at most U+10FFFF.
      f.lo8 = 0x80, f.hi8 = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        f.need = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        f.need = 2;
        if (c == 0xE0) f.lo8 = 0xA0;
        if (c == 0xED) f.hi8 = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        f.need = 3;
        if (c == 0xF0) f.lo8 = 0x90;
        if (c == 0xF4) f.hi8 = 0x8F;
      } else {
        return Lex::Reject;
      }
      f.sub = 3;
      return Lex::Char;
    case 1:  // after '\'
      switch (c) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          f.sub = 0;
          return Lex::Cont;
        case 'u':
          f.sub = 2, f.need = 4, f.lo8 = 0;
          return Lex::Cont;
        default:
          return Lex::Reject;
      }
    case 2:  // \u digits; no surrogates (\uD800-\uDFFF), which must come in pairs
      if (!is_hex(c)) return Lex::Reject;
      if (f.need == 3 && f.lo8 == 1 && !(c >= '0' && c <= '7')) return Lex::Reject;
      f.lo8 = (f.need == 4 && (c == 'd' || c == 'D')) ? 1 : 0;
      if (--f.need == 0) f.sub = 0, f.lo8 = 0;
      return Lex::Cont;
    default:  // UTF-8 continuation
      if (c < f.lo8 || c > f.hi8) return Lex::Reject;
      f.lo8 = 0x80, f.hi8 = 0xBF;
      if (--f.need == 0) f.sub = 0, f.lo8 = 0, f.hi8 = 0;
      return Lex::Cont;
  }
}

// Can a decimal integer whose digits so far have magnitude `mag` (and sign
// `neg`) still end in [lo, hi] by appending digits? `zero`: the digits are a
// single leading 0, which cannot be extended.
bool int_feasible(bool neg, uint64_t mag, bool zero, int64_t lo, int64_t hi) {
  using i128 = __int128;
  auto hits = [&](i128 m_lo, i128 m_hi) {  // magnitudes [m_lo, m_hi] with the sign
    const i128 v_lo = neg ? -m_hi : m_lo, v_hi = neg ? -m_lo : m_hi;
    return v_lo <= hi && v_hi >= lo;
  };
  if (zero) return hits(0, 0);
  const i128 limit = i128{1} << 64;  // beyond every int64 magnitude
  i128 m_lo = mag, m_hi = mag;
  while (m_lo < limit) {
    if (hits(m_lo, m_hi)) return true;
    m_lo *= 10, m_hi = m_hi * 10 + 9;
  }
  return false;
}

bool int_in_range(bool neg, uint64_t mag, int64_t lo, int64_t hi) {
  const __int128 v = neg ? -static_cast<__int128>(mag) : static_cast<__int128>(mag);
  return v >= lo && v <= hi;
}

// Bounded numbers: may integer part I (with its sign) take a fraction, i.e.
// does every value in [I, I+1) (or (-(I+1), -I]) lie within the bounds?
bool fraction_ok(const Node& n, bool neg, uint64_t mag) {
  const long double i = static_cast<long double>(mag);
  if (!neg) return (n.a_exclusive ? i > n.a : i >= n.a) && i + 1 <= n.b;
  return -(i + 1) >= n.a && (n.b_exclusive ? -i < n.b : -i <= n.b);
}

Frame start_frame(const Grammar& g, uint32_t node) {
  Frame f;
  f.node = node;
  if (g.nodes[node].kind == Kind::Literals)
    f.aux = static_cast<uint32_t>(g.nodes[node].literals.size());
  return f;
}

}  // namespace

bool Grammar::finish() {
  // Flatten unions: each alternative list becomes the non-union nodes reachable
  // through unions only (cycles of unions contribute nothing).
  for (Node& n : nodes) {
    if (n.kind != Kind::Union) continue;
    std::vector<uint32_t> flat, todo = n.alts;
    std::vector<bool> seen(nodes.size());
    while (!todo.empty()) {
      const uint32_t a = todo.back();
      todo.pop_back();
      if (seen[a]) continue;
      seen[a] = true;
      if (nodes[a].kind == Kind::Union) {
        todo.insert(todo.end(), nodes[a].alts.begin(), nodes[a].alts.end());
      } else {
        flat.push_back(a);
      }
    }
    std::sort(flat.begin(), flat.end());
    n.alts = std::move(flat);
  }
  // min_depth: least fixpoint, counting the node's own frame.
  auto sat_add = [](uint32_t a, uint32_t b) {
    return (a == kUnbounded || b == kUnbounded) ? kUnbounded : a + b;
  };
  for (Node& n : nodes) n.min_depth = kUnbounded;
  for (bool changed = true; changed;) {
    changed = false;
    for (Node& n : nodes) {
      uint32_t d = kUnbounded;
      switch (n.kind) {
        case Kind::Object: {
          uint32_t inner = 0;
          for (const Property& p : n.props)
            if (p.required) inner = std::max(inner, nodes[p.value].min_depth);
          d = sat_add(1, inner);
          break;
        }
        case Kind::Array:
          d = sat_add(1, n.min_items > 0 ? nodes[n.items].min_depth : 0);
          break;
        case Kind::Literals:
          d = n.literals.empty() ? kUnbounded : 1;
          break;
        case Kind::String:
        case Kind::Integer:
        case Kind::Number:
          d = 1;
          break;
        case Kind::Union:
          for (uint32_t a : n.alts) d = std::min(d, nodes[a].min_depth);
          break;
      }
      if (d < n.min_depth) n.min_depth = d, changed = true;
    }
  }
  return root != kNoNode && nodes[root].min_depth < kMaxStack;
}

State Machine::initial(uint32_t root) const {
  State s;
  Frame f;
  f.node = kRootNode;
  f.cand = root;
  s.stacks[s.add()].push_back(f);
  return s;
}

bool Machine::frame_complete(const Frame& f) const {
  if (f.node == kRootNode) return f.phase == kRootAfter;
  const Node& n = g_.nodes[f.node];
  switch (n.kind) {
    case Kind::Integer:
      return f.phase == kNumInt && int_in_range(f.flags & kNeg, f.mag, n.lo, n.hi);
    case Kind::Number:
      if (!n.bounded) return f.phase == kNumInt || f.phase == kNumFrac || f.phase == kNumExp;
      if (f.phase == kNumFrac) return true;
      return f.phase == kNumInt && !((f.flags & kNeg) && f.mag == 0) &&
             int_in_range(f.flags & kNeg, f.mag, n.lo, n.hi);
    case Kind::Literals:
      return n.literals[f.cand].size() == f.pos;
    default:
      return false;
  }
}

Machine::Step Machine::step(Stack& s, uint8_t c, uint32_t& child) const {
  Frame& f = s.back();
  const uint32_t depth = static_cast<uint32_t>(s.size());
  auto fits = [&](uint32_t node) {
    const uint32_t d = g_.nodes[node].min_depth;
    return d != kUnbounded && depth + d <= kMaxStack;
  };
  // Whitespace in a gap between tokens: nothing or one space. Stricter than
  // llama.cpp's grammar (which allows a newline and 20 bytes of indentation):
  // weak models spend their whole token budget on indentation when allowed,
  // and compact JSON is just as valid.
  auto gap = [&]() {
    if (f.ws != 0 || c != ' ') return Step::Reject;
    f.ws = 1;
    return Step::Consumed;
  };

  if (f.node == kRootNode) {
    if (is_ws(c)) return (f.flags & kRootNoWs) ? Step::Reject : gap();
    if (f.phase != kRootBefore) return Step::Reject;
    f.phase = kRootAfter, f.ws = 0;
    child = f.cand;
    return Step::PushRetry;
  }

  const Node& n = g_.nodes[f.node];
  switch (n.kind) {
    case Kind::Object: {
      const uint32_t np = static_cast<uint32_t>(n.props.size());
      const uint32_t req = n.next_required[std::min(f.count, np)];
      const uint32_t cand_end = req < np ? req + 1 : np;  // keys [count, cand_end) may come next
      auto cand_ok = [&](uint32_t j) {
        return j >= f.count && j < cand_end && fits(n.props[j].value);
      };
      const bool extra_ok = n.extra != kNoNode && req == np && fits(n.extra);
      auto first_cand = [&]() {
        for (uint32_t j = f.count; j < cand_end; ++j)
          if (fits(n.props[j].value)) return j;
        return kNoNode;
      };
      auto start_key = [&]() {
        const uint32_t j = first_cand();
        if (j == kNoNode && !extra_ok) return Step::Reject;
        f.phase = kObjKey, f.ws = 0, f.pos = 1, f.cand = j;
        f.flags = extra_ok ? kFreeKey : 0;
        f.aux = np > 0 ? 0 : kNoNode;
        f.sub = 0;
        return Step::Consumed;
      };
      switch (f.phase) {
        case kObjOpen:
          if (c != '{') return Step::Reject;
          f.phase = kObjFirst;
          return Step::Consumed;
        case kObjFirst:
        case kObjNext:
          if (is_ws(c)) return gap();
          if (c == '"') return start_key();
          if (c == '}' && f.phase == kObjFirst && req == np) return Step::Done;
          return Step::Reject;
        case kObjKey: {
          const uint32_t p = f.pos;
          // Declared keys: the lowest candidate that the bytes so far spell.
          uint32_t cand = kNoNode;
          if (f.cand != kNoNode) {
            const std::string& cur = n.props[f.cand].key;
            for (uint32_t j = f.cand; j < cand_end; ++j) {
              const std::string& k = n.props[j].key;
              if (k.size() > p && static_cast<uint8_t>(k[p]) == c && cand_ok(j) &&
                  k.compare(0, p, cur, 0, p) == 0) {
                cand = j;
                break;
              }
            }
          }
          const bool declared_closes = cand != kNoNode && n.props[cand].key.size() == p + 1;
          // An additional key: any string without escapes that no declared key equals.
          bool free_alive = false, free_closes = false;
          if (f.flags & kFreeKey) {
            uint32_t eq = kNoNode;
            if (f.aux != kNoNode) {
              const std::string& cur = n.props[f.aux].key;
              for (uint32_t j = f.aux; j < np; ++j) {
                const std::string& k = n.props[j].key;
                if (k.size() > p && static_cast<uint8_t>(k[p]) == c &&
                    k.compare(0, p, cur, 0, p) == 0) {
                  eq = j;
                  break;
                }
              }
            }
            const Lex r = string_byte(f, c, np == 0);
            if (r == Lex::Close) {
              free_closes = !(eq != kNoNode && n.props[eq].key.size() == p + 1);
            } else if (r != Lex::Reject) {
              free_alive = true;
            }
            f.aux = eq;
          }
          if (c == '"' && (declared_closes || free_closes) && f.sub == 0) {
            f.phase = kObjColon, f.ws = 0, f.pos = 0, f.aux = 0, f.flags = 0;
            f.sub = f.need = f.lo8 = f.hi8 = 0;
            f.cand = declared_closes ? cand : np;
            return Step::Consumed;
          }
          if (cand == kNoNode && !free_alive) return Step::Reject;
          if (!free_alive) f.flags &= ~kFreeKey;
          f.cand = cand;
          ++f.pos;
          return Step::Consumed;
        }
        case kObjColon:
          if (is_ws(c)) return gap();
          if (c != ':') return Step::Reject;
          f.phase = kObjValue, f.ws = 0;
          return Step::Consumed;
        case kObjValue:
          if (is_ws(c)) return gap();
          child = f.cand == np ? n.extra : n.props[f.cand].value;
          f.count = f.cand == np ? np : f.cand + 1;
          f.phase = kObjAfter, f.ws = 0, f.cand = 0;
          return Step::PushRetry;
        default:  // kObjAfter
          if (is_ws(c)) return gap();
          if (c == '}') return req == np ? Step::Done : Step::Reject;
          if (c != ',') return Step::Reject;
          if (first_cand() == kNoNode && !extra_ok) return Step::Reject;
          f.phase = kObjNext, f.ws = 0;
          return Step::Consumed;
      }
    }

    case Kind::Array:
      switch (f.phase) {
        case kArrOpen:
          if (c != '[') return Step::Reject;
          f.phase = kArrFirst;
          return Step::Consumed;
        case kArrAfter:
          if (is_ws(c)) return gap();
          if (c == ']') return f.count >= n.min_items ? Step::Done : Step::Reject;
          if (c != ',' || f.count >= n.max_items || !fits(n.items)) return Step::Reject;
          f.phase = kArrNext, f.ws = 0;
          return Step::Consumed;
        default:  // kArrFirst, kArrNext
          if (is_ws(c)) return gap();
          if (c == ']' && f.phase == kArrFirst) return n.min_items == 0 ? Step::Done : Step::Reject;
          if (f.count >= n.max_items || !fits(n.items)) return Step::Reject;
          ++f.count;
          f.phase = kArrAfter, f.ws = 0;
          child = n.items;
          return Step::PushRetry;
      }

    case Kind::String:
      if (f.phase == kStrOpen) {
        if (c != '"') return Step::Reject;
        f.phase = kStrBody;
        return Step::Consumed;
      }
      switch (string_byte(f, c, true)) {
        case Lex::Reject:
          return Step::Reject;
        case Lex::Char:
          if (f.count >= n.max_len) return Step::Reject;
          ++f.count;
          return Step::Consumed;
        case Lex::Cont:
          return Step::Consumed;
        case Lex::Close:
          return f.count >= n.min_len ? Step::Done : Step::Reject;
      }
      return Step::Reject;

    case Kind::Integer:
    case Kind::Number: {
      const bool integer = n.kind == Kind::Integer, bounded = integer || n.bounded;
      const bool neg = f.flags & kNeg;
      const int d = c - '0';
      switch (f.phase) {
        case kNumStart:
          if (c == '-') {
            if (bounded && n.lo >= 0 && !(!integer && fraction_ok(n, true, 0))) return Step::Reject;
            f.flags |= kNeg;
            f.phase = kNumSign;
            return Step::Consumed;
          }
          [[fallthrough]];
        case kNumSign:
          if (!is_digit(c)) return Step::Reject;
          if (bounded) {
            if (d == 0 && neg) {  // "-0" only as the integer part of a negative fraction
              if (integer || !fraction_ok(n, true, 0)) return Step::Reject;
            } else if (!int_feasible(neg, d, d == 0, n.lo, n.hi)) {
              return Step::Reject;
            }
          }
          f.mag = d, f.count = 1;
          if (d == 0) f.flags |= kZero;
          f.phase = kNumInt;
          return Step::Consumed;
        case kNumInt:
          if (is_digit(c)) {
            if (f.flags & kZero) return Step::Reject;
            if (bounded) {
              const unsigned __int128 next = static_cast<unsigned __int128>(f.mag) * 10 + d;
              if (next > std::numeric_limits<uint64_t>::max() ||
                  !int_feasible(neg, static_cast<uint64_t>(next), false, n.lo, n.hi))
                return Step::Reject;
              f.mag = static_cast<uint64_t>(next);
            } else if (f.count >= kMaxIntDigits) {
              return Step::Reject;
            }
            ++f.count;
            return Step::Consumed;
          }
          if (c == '.' && !integer) {
            if (n.bounded && !fraction_ok(n, neg, f.mag)) return Step::Reject;
            f.phase = kNumDot, f.count = 0;
            return Step::Consumed;
          }
          if ((c == 'e' || c == 'E') && !bounded) {
            f.phase = kNumE, f.count = 0;
            return Step::Consumed;
          }
          return frame_complete(f) ? Step::PopRetry : Step::Reject;
        case kNumDot:
        case kNumFrac:
          if (is_digit(c)) {
            if (f.count >= kMaxFracDigits) return Step::Reject;
            ++f.count;
            f.phase = kNumFrac;
            return Step::Consumed;
          }
          if (f.phase == kNumDot) return Step::Reject;
          if ((c == 'e' || c == 'E') && !bounded) {
            f.phase = kNumE, f.count = 0;
            return Step::Consumed;
          }
          return Step::PopRetry;
        case kNumE:
          if (c == '+' || c == '-') {
            f.phase = kNumESign;
            return Step::Consumed;
          }
          [[fallthrough]];
        case kNumESign:
        case kNumExp:
          if (is_digit(c)) {
            if (f.count >= kMaxExpDigits) return Step::Reject;
            ++f.count;
            f.phase = kNumExp;
            return Step::Consumed;
          }
          return f.phase == kNumExp ? Step::PopRetry : Step::Reject;
      }
      return Step::Reject;
    }

    case Kind::Literals: {
      const auto& lits = n.literals;
      const uint32_t p = f.pos;
      uint32_t lo = f.cand;
      if (lits[lo].size() == p) ++lo;  // the one that ends here sorts first
      auto at = [&](const std::string& s) { return static_cast<uint8_t>(s[p]); };
      const auto first = lits.begin() + lo, last = lits.begin() + f.aux;
      const auto b =
          std::partition_point(first, last, [&](const std::string& s) { return at(s) < c; });
      const auto e =
          std::partition_point(b, last, [&](const std::string& s) { return at(s) <= c; });
      if (b == e) return frame_complete(f) ? Step::PopRetry : Step::Reject;
      f.cand = static_cast<uint32_t>(b - lits.begin());
      f.aux = static_cast<uint32_t>(e - lits.begin());
      f.pos = p + 1;
      if (f.aux - f.cand == 1 && lits[f.cand].size() == f.pos) return Step::Done;
      return Step::Consumed;
    }

    case Kind::Union:
      break;  // never on a stack: pushes expand unions
  }
  return Step::Reject;
}

bool Machine::run(State& out, size_t k, uint8_t c) const {
  for (;;) {
    uint32_t child = kNoNode;
    switch (step(out.stacks[k], c, child)) {
      case Step::Reject:
        return false;
      case Step::Consumed:
        return true;
      case Step::Done:
        out.stacks[k].pop_back();
        return true;
      case Step::PopRetry:
        out.stacks[k].pop_back();
        continue;
      case Step::PushRetry: {
        const Node& n = g_.nodes[child];
        const uint32_t* alts = n.kind == Kind::Union ? n.alts.data() : &child;
        const size_t n_alts = n.kind == Kind::Union ? n.alts.size() : 1;
        const size_t depth = out.stacks[k].size();
        uint32_t last = kNoNode;
        for (size_t i = 0; i < n_alts; ++i) {
          const uint32_t d = g_.nodes[alts[i]].min_depth;
          if (d == kUnbounded || depth + d > kMaxStack) continue;
          if (last != kNoNode) {  // fork for the previous alternative
            const size_t m = out.add();
            out.stacks[m] = out.stacks[k];
            out.stacks[m].push_back(start_frame(g_, last));
            if (!run(out, m, c)) {
              std::swap(out.stacks[m], out.stacks[out.n - 1]);
              --out.n;
            }
          }
          last = alts[i];
        }
        if (last == kNoNode) return false;
        out.stacks[k].push_back(start_frame(g_, last));
        continue;
      }
    }
  }
}

bool Machine::advance(const State& in, uint8_t c, State& out) const {
  out.n = 0;
  for (size_t i = 0; i < in.n; ++i) {
    const size_t k = out.add();
    out.stacks[k] = in.stacks[i];
    if (!run(out, k, c)) {
      std::swap(out.stacks[k], out.stacks[out.n - 1]);
      --out.n;
    }
  }
  if (out.n > 1) {  // drop duplicates, then keep at most kMaxStacks
    size_t kept = 1;
    for (size_t i = 1; i < out.n; ++i) {
      bool dup = false;
      for (size_t j = 0; j < kept && !dup; ++j) dup = out.stacks[j] == out.stacks[i];
      if (!dup) std::swap(out.stacks[kept++], out.stacks[i]);
    }
    out.n = std::min<size_t>(kept, kMaxStacks);
  }
  return out.n > 0;
}

uint32_t plain_text_chars(std::string_view piece) {
  Frame f;
  uint32_t chars = 0;
  for (const char ch : piece) {
    switch (string_byte(f, static_cast<uint8_t>(ch), /*escapes=*/false)) {
      case Lex::Char:
        ++chars;
        break;
      case Lex::Cont:
        break;
      default:
        return 0;
    }
  }
  return f.sub == 0 ? chars : 0;
}

uint32_t Machine::plain_run(const State& s) const {
  uint32_t most = 0;
  for (size_t i = 0; i < s.n; ++i) {
    const Frame& f = s.stacks[i].back();
    if (f.node == kRootNode) return 0;
    const Node& n = g_.nodes[f.node];
    if (n.kind != Kind::String || f.phase != kStrBody || f.sub != 0) return 0;
    most = std::max(most, n.max_len == kUnbounded ? kUnbounded : n.max_len - f.count);
  }
  return most;
}

bool Machine::complete(const State& s) const {
  for (size_t i = 0; i < s.n; ++i) {
    const Stack& st = s.stacks[i];
    for (size_t top = st.size(); top > 0; --top) {
      const Frame& f = st[top - 1];
      if (!frame_complete(f)) break;
      if (f.node == kRootNode) return true;
    }
  }
  return false;
}

bool Machine::matches(uint32_t root, std::string_view text) const {
  State a = initial(root), b;
  a.stacks[0][0].flags |= kRootNoWs;
  for (const char ch : text) {
    if (!advance(a, static_cast<uint8_t>(ch), b)) return false;
    std::swap(a, b);
  }
  return complete(a);
}

}  // namespace hearth::grammar::detail
