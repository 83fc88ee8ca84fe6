#include "tokenizer/regex.h"

#include <stdexcept>

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

// Code points as the matcher sees them (see the header): in collapsed mode a
// non-ASCII non-space code point becomes kCategoryKey | its category bit.
constexpr uint32_t kCategoryKey = 0x200000;
constexpr uint32_t kVerticalTab = 0x0B;

bool ascii_space(uint32_t k) { return k == ' ' || (k >= 0x09 && k <= 0x0D); }
bool ascii_digit(uint32_t k) { return k >= '0' && k <= '9'; }
bool ascii_word(uint32_t k) {
  return ascii_digit(k) || (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z') || k == '_';
}

// llama.cpp's ASCII members of each class in collapsed patterns.
bool ascii_in_category(uint32_t k, uint16_t cat) {
  switch (cat) {
    case unicode::kNumber:
      return ascii_digit(k);
    case unicode::kLetter:
      return (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z');
    case unicode::kPunctuation:
      return (k >= 0x21 && k <= 0x23) || (k >= 0x25 && k <= 0x2A) || (k >= 0x2C && k <= 0x2F) ||
             k == 0x3A || k == 0x3B || k == 0x3F || k == 0x40 || (k >= 0x5B && k <= 0x5D) ||
             k == 0x5F || k == 0x7B || k == 0x7D;
    case unicode::kSymbol:
      return k == 0x24 || k == 0x2B || (k >= 0x3C && k <= 0x3E) || k == 0x5E || k == 0x60 ||
             k == 0x7C;
    default:  // \p{M}: no ASCII members
      return false;
  }
}

}  // namespace

struct ClassItem {
  enum Type { Range, Space, NotSpace, Digit, NotDigit, Word, NotWord, Category };
  Type type = Range;
  uint32_t lo = 0, hi = 0;
  uint16_t cat = 0;

  bool matches(uint32_t k) const {
    switch (type) {
      case Range:
        return k >= lo && k <= hi;
      case Space:
        return ascii_space(k);
      case NotSpace:
        return !ascii_space(k);
      case Digit:
        return ascii_digit(k);
      case NotDigit:
        return !ascii_digit(k);
      case Word:
        return ascii_word(k);
      case NotWord:
        return !ascii_word(k);
      case Category:
        return k >= kCategoryKey ? (k & 0xFF) == cat : ascii_in_category(k, cat);
    }
    return false;
  }
};

struct RegexNode {
  enum Kind { Class, Seq, Alt, Repeat, Look, Bol, Eol, WordBoundary, NotWordBoundary };
  Kind kind = Seq;
  std::vector<RegexNode*> kids;
  std::vector<ClassItem> items;  // Class
  bool negate = false;           // Class: [^..]; Look: (?!..)
  bool dot = false;              // Class: '.'
  int min = 0, max = -1;         // Repeat; max -1 = unbounded
  bool greedy = true;
  bool single = false;  // consumes exactly one code point, decided by that one alone

  bool class_matches(uint32_t k) const {
    if (dot) return k != '\n' && k != '\r';
    bool in = false;
    for (const auto& it : items) {
      if (it.matches(k)) {
        in = true;
        break;
      }
    }
    return in != negate;
  }
};

class RegexParser {
 public:
  RegexParser(Regex& re) : re_(re), p_(unicode::decode(re.pattern_)) {}

  RegexNode* parse() {
    RegexNode* n = alternation();
    if (i_ != p_.size()) fail("unexpected ')'");
    return n;
  }

  void fail(const std::string& what) const {
    throw std::runtime_error("pre-tokenizer regex '" + re_.pattern_ + "': " + what +
                             " at code point " + std::to_string(i_));
  }

 private:
  RegexNode* make(RegexNode::Kind k) {
    re_.nodes_.push_back(std::make_unique<RegexNode>());
    re_.nodes_.back()->kind = k;
    return re_.nodes_.back().get();
  }
  bool more() const { return i_ < p_.size(); }
  uint32_t peek() const { return p_[i_]; }
  uint32_t next() {
    if (!more()) fail("unexpected end");
    return p_[i_++];
  }

  RegexNode* alternation() {
    RegexNode* first = sequence();
    if (!more() || peek() != '|') return first;
    RegexNode* alt = make(RegexNode::Alt);
    alt->kids.push_back(first);
    while (more() && peek() == '|') {
      ++i_;
      alt->kids.push_back(sequence());
    }
    alt->single = true;
    for (auto* k : alt->kids) alt->single = alt->single && k->single;
    return alt;
  }

  RegexNode* sequence() {
    RegexNode* seq = make(RegexNode::Seq);
    while (more() && peek() != '|' && peek() != ')') seq->kids.push_back(quantified());
    // Single when it is lookaheads over single nodes followed by one single node.
    if (!seq->kids.empty() && seq->kids.back()->single) {
      bool ok = true;
      for (size_t j = 0; j + 1 < seq->kids.size(); ++j) {
        const RegexNode* k = seq->kids[j];
        ok = ok && k->kind == RegexNode::Look && k->kids[0]->single;
      }
      seq->single = ok;
    }
    if (seq->kids.size() == 1) return seq->kids[0];
    return seq;
  }

  RegexNode* quantified() {
    RegexNode* atom_node = atom();
    while (more()) {
      int lo = 0, hi = -1;
      const uint32_t c = peek();
      if (c == '*') {
        ++i_;
      } else if (c == '+') {
        lo = 1;
        ++i_;
      } else if (c == '?') {
        hi = 1;
        ++i_;
      } else if (c == '{' && i_ + 1 < p_.size() && ascii_digit(p_[i_ + 1])) {
        ++i_;
        lo = number();
        hi = lo;
        if (more() && peek() == ',') {
          ++i_;
          hi = (more() && ascii_digit(peek())) ? number() : -1;
        }
        if (next() != '}') fail("expected '}'");
        if (hi >= 0 && hi < lo) fail("bad repeat bounds");
      } else {
        break;
      }
      RegexNode* rep = make(RegexNode::Repeat);
      rep->kids.push_back(atom_node);
      rep->min = lo;
      rep->max = hi;
      if (more() && peek() == '?') {
        rep->greedy = false;
        ++i_;
      }
      atom_node = rep;
    }
    return atom_node;
  }

  int number() {
    int v = 0;
    while (more() && ascii_digit(peek())) {
      v = v * 10 + static_cast<int>(next() - '0');
      if (v > 100000) fail("repeat count too large");
    }
    return v;
  }

  RegexNode* atom() {
    const uint32_t c = next();
    if (c == '(') {
      RegexNode* n = nullptr;
      if (more() && peek() == '?') {
        ++i_;
        const uint32_t t = next();
        if (t == ':') {
          n = alternation();
        } else if (t == '=' || t == '!') {
          n = make(RegexNode::Look);
          n->negate = t == '!';
          n->kids.push_back(alternation());
        } else {
          fail("unsupported group '(?'");
        }
      } else {
        n = alternation();  // capturing groups are only grouping here
      }
      if (next() != ')') fail("expected ')'");
      return n;
    }
    if (c == '[') return char_class();
    if (c == '^') return make(RegexNode::Bol);
    if (c == '$') return make(RegexNode::Eol);
    if (c == '.') {
      RegexNode* n = make(RegexNode::Class);
      n->dot = true;
      n->single = true;
      return n;
    }
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    RegexNode* n = make(RegexNode::Class);
    n->single = true;
    if (c == '\\') {
      const uint32_t e = peek();
      if (e == 'b' || e == 'B') {
        ++i_;
        n->kind = e == 'b' ? RegexNode::WordBoundary : RegexNode::NotWordBoundary;
        n->single = false;
        return n;
      }
      n->items.push_back(escape());
      return n;
    }
    n->items.push_back(literal(c));
    return n;
  }

  ClassItem literal(uint32_t c) {
    if (re_.collapsed_ && c >= 0x80) {
      fail("non-ASCII character in a pattern with \\p classes");
    }
    ClassItem it;
    it.lo = it.hi = c;
    return it;
  }

  // After a backslash.
  ClassItem escape() {
    const uint32_t e = next();
    ClassItem it;
    switch (e) {
      case 's':
        it.type = ClassItem::Space;
        return it;
      case 'S':
        it.type = ClassItem::NotSpace;
        return it;
      case 'd':
        it.type = ClassItem::Digit;
        return it;
      case 'D':
        it.type = ClassItem::NotDigit;
        return it;
      case 'w':
        it.type = ClassItem::Word;
        return it;
      case 'W':
        it.type = ClassItem::NotWord;
        return it;
      case 'n':
        return literal('\n');
      case 'r':
        return literal('\r');
      case 't':
        return literal('\t');
      case 'f':
        return literal('\f');
      case 'v':
        return literal('\v');
      case 'p':
        return category();
      case 'x': {
        uint32_t v = 0;
        for (int j = 0; j < 2; ++j) {
          const uint32_t h = next();
          v = v * 16 + (ascii_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        return literal(v);
      }
      default:
        if (ascii_word(e)) fail("unsupported escape");
        return literal(e);  // \\ \- \[ \$ and the like
    }
  }

  ClassItem category() {
    if (next() != '{') fail("expected '{' after \\p");
    std::string name;
    while (more() && peek() != '}') name.push_back(static_cast<char>(next()));
    next();
    ClassItem it;
    it.type = ClassItem::Category;
    if (name == "N") {
      it.cat = unicode::kNumber;
    } else if (name == "L" || name == "Lu" || name == "Ll" || name == "Lt" || name == "Lm" ||
               name == "Lo") {
      it.cat = unicode::kLetter;  // llama.cpp folds the letter subclasses into \p{L}
    } else if (name == "P") {
      it.cat = unicode::kPunctuation;
    } else if (name == "S") {
      it.cat = unicode::kSymbol;
    } else if (name == "M") {
      it.cat = unicode::kMark;
    } else {
      fail("unsupported class \\p{" + name + "}");
    }
    return it;
  }

  RegexNode* char_class() {
    RegexNode* n = make(RegexNode::Class);
    n->single = true;
    if (more() && peek() == '^') {
      n->negate = true;
      ++i_;
    }
    bool first = true;
    while (true) {
      if (!more()) fail("unterminated '['");
      uint32_t c = next();
      if (c == ']' && !first) break;
      first = false;
      ClassItem lo = c == '\\' ? escape() : literal(c);
      if (lo.type == ClassItem::Range && more() && peek() == '-' && i_ + 1 < p_.size() &&
          p_[i_ + 1] != ']') {
        ++i_;
        const uint32_t c2 = next();
        const ClassItem hi = c2 == '\\' ? escape() : literal(c2);
        if (hi.type != ClassItem::Range || hi.lo < lo.lo) fail("bad range in '[..]'");
        lo.hi = hi.lo;
      }
      n->items.push_back(lo);
    }
    return n;
  }

  Regex& re_;
  std::vector<uint32_t> p_;
  size_t i_ = 0;
};

// A continuation: what to match after a node, given where it ended.
struct Cont {
  bool (*fn)(const void*, size_t);
  const void* ctx;
  bool operator()(size_t p) const { return fn(ctx, p); }
};
template <class F>
Cont cont(const F& f) {
  return Cont{[](const void* c, size_t p) { return (*static_cast<const F*>(c))(p); }, &f};
}

class RegexMatcher {
 public:
  RegexMatcher(const std::vector<uint32_t>& keys, size_t begin, size_t end)
      : k_(keys), begin_(begin), end_(end) {}

  // The end of the match starting exactly at `pos`, or -1.
  long match_at(const RegexNode* root, size_t pos, bool non_empty) const {
    long found = -1;
    auto done = [&](size_t p) {
      if (non_empty && p == pos) return false;
      found = static_cast<long>(p);
      return true;
    };
    m(root, pos, cont(done));
    return found;
  }

 private:
  bool single(const RegexNode* n, size_t pos) const {
    switch (n->kind) {
      case RegexNode::Class:
        return pos < end_ && n->class_matches(k_[pos]);
      case RegexNode::Alt:
        for (auto* kid : n->kids)
          if (single(kid, pos)) return true;
        return false;
      case RegexNode::Seq:
        for (size_t j = 0; j + 1 < n->kids.size(); ++j) {
          const RegexNode* look = n->kids[j];
          if (single(look->kids[0], pos) == look->negate) return false;
        }
        return single(n->kids.back(), pos);
      default:
        return false;
    }
  }

  bool is_word(size_t pos) const { return pos >= begin_ && pos < end_ && ascii_word(k_[pos]); }

  bool m(const RegexNode* n, size_t pos, Cont k) const {
    switch (n->kind) {
      case RegexNode::Class:
        return pos < end_ && n->class_matches(k_[pos]) && k(pos + 1);
      case RegexNode::Seq:
        return seq(n, 0, pos, k);
      case RegexNode::Alt:
        for (auto* kid : n->kids)
          if (m(kid, pos, k)) return true;
        return false;
      case RegexNode::Look: {
        auto any = [](size_t) { return true; };
        const bool hit = m(n->kids[0], pos, cont(any));
        return hit != n->negate && k(pos);
      }
      case RegexNode::Bol:
        return pos == begin_ && k(pos);
      case RegexNode::Eol:
        return pos == end_ && k(pos);
      case RegexNode::WordBoundary:
      case RegexNode::NotWordBoundary: {
        const bool at = (pos > begin_ && is_word(pos - 1)) != is_word(pos);
        return at == (n->kind == RegexNode::WordBoundary) && k(pos);
      }
      case RegexNode::Repeat:
        if (n->kids[0]->single) return repeat_single(n, pos, k);
        return repeat(n, 0, pos, k);
    }
    return false;
  }

  bool seq(const RegexNode* n, size_t i, size_t pos, Cont k) const {
    if (i == n->kids.size()) return k(pos);
    auto rest = [&](size_t p) { return seq(n, i + 1, p, k); };
    return m(n->kids[i], pos, cont(rest));
  }

  // A repeat of a one-code-point node: count the run, then back off one by one.
  bool repeat_single(const RegexNode* n, size_t pos, Cont k) const {
    const size_t cap = n->max < 0 ? end_ - pos : static_cast<size_t>(n->max);
    size_t run = 0;
    while (run < cap && single(n->kids[0], pos + run)) ++run;
    const size_t lo = static_cast<size_t>(n->min);
    if (run < lo) return false;
    if (n->greedy) {
      for (size_t c = run + 1; c-- > lo;)
        if (k(pos + c)) return true;
    } else {
      for (size_t c = lo; c <= run; ++c)
        if (k(pos + c)) return true;
    }
    return false;
  }

  bool repeat(const RegexNode* n, int count, size_t pos, Cont k) const {
    const bool can_more = n->max < 0 || count < n->max;
    const bool can_stop = count >= n->min;
    auto again = [&](size_t p) {
      if (p == pos && count >= n->min) return false;  // an empty iteration ends the loop
      return repeat(n, count + 1, p, k);
    };
    if (n->greedy) {
      if (can_more && m(n->kids[0], pos, cont(again))) return true;
      return can_stop && k(pos);
    }
    if (can_stop && k(pos)) return true;
    return can_more && m(n->kids[0], pos, cont(again));
  }

  const std::vector<uint32_t>& k_;
  size_t begin_, end_;
};

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  collapsed_ = pattern.find("\\p{") != std::string::npos;
  RegexParser parser(*this);
  root_ = parser.parse();
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;

std::vector<size_t> Regex::split(std::span<const uint32_t> cps,
                                 const std::vector<size_t>& chunks) const {
  std::vector<uint32_t> keys(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    const uint32_t cp = cps[i];
    if (cp < 0x80) {
      keys[i] = cp;
      continue;
    }
    const uint16_t f = unicode::flags(cp);
    if (f & unicode::kWhitespace) {
      keys[i] = kVerticalTab;
    } else {
      keys[i] = collapsed_ ? (kCategoryKey | (f & unicode::kCategoryMask)) : cp;
    }
  }

  std::vector<size_t> out;
  out.reserve(chunks.size());
  size_t start = 0;
  for (const size_t len : chunks) {
    const size_t end = start + len;
    RegexMatcher matcher(keys, start, end);
    size_t emitted = start;  // end of what has been output
    size_t pos = start;
    bool after_empty = false;
    while (pos <= end) {
      long found = -1;
      size_t at = pos;
      if (after_empty) {
        found = matcher.match_at(root_, pos, true);
        if (found < 0) {
          after_empty = false;
          ++pos;
          continue;
        }
      } else {
        for (at = pos; at <= end; ++at) {
          found = matcher.match_at(root_, at, false);
          if (found >= 0) break;
        }
        if (found < 0) break;
      }
      if (at > emitted) out.push_back(at - emitted);
      out.push_back(static_cast<size_t>(found) - at);
      emitted = static_cast<size_t>(found);
      after_empty = static_cast<size_t>(found) == at;
      pos = static_cast<size_t>(found);
      if (pos == end && !after_empty) break;
    }
    if (emitted < end) out.push_back(end - emitted);
    start = end;
  }
  return out;
}

}  // namespace hearth::tokenizer
