// The pattern parser of the regex engine (see regex.h for what it accepts).
#include <stdexcept>

#include "tokenizer/regex_node.h"

namespace hearth::tokenizer {

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

RegexNode* parse_regex(Regex& re) { return RegexParser(re).parse(); }

}  // namespace hearth::tokenizer
