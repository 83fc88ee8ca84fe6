// The matcher of the regex engine: backtracking with continuations, and the
// split that llama.cpp's unicode_regex_split_stl performs with std::regex.
#include "tokenizer/regex.h"

#include "tokenizer/regex_node.h"

namespace hearth::tokenizer {

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

  // How many code points from `pos` on match the one-code-point node `n`.
  size_t run(const RegexNode* n, size_t pos) const {
    size_t r = 0;
    while (single(n, pos + r)) ++r;
    return r;
  }

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

namespace {

// Adds to `out` the classes one of which the first code point of a match of
// `n` must satisfy; returns whether `n` can match without consuming any.
bool first_classes(const RegexNode* n, std::vector<const RegexNode*>& out) {
  switch (n->kind) {
    case RegexNode::Class:
      out.push_back(n);
      return false;
    case RegexNode::Seq:
      for (const RegexNode* k : n->kids)
        if (!first_classes(k, out)) return false;
      return true;
    case RegexNode::Alt: {
      bool nullable = false;
      for (const RegexNode* k : n->kids) nullable = first_classes(k, out) || nullable;
      return nullable;
    }
    case RegexNode::Repeat:
      return first_classes(n->kids[0], out) || n->min == 0;
    default:  // lookaheads and anchors consume nothing
      return true;
  }
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  collapsed_ = pattern.find("\\p{") != std::string::npos;
  root_ = parse_regex(*this);
  for (auto& n : nodes_)
    if (n->kind == RegexNode::Class) n->prepare();
  first_known_ = !first_classes(root_, first_);
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

  // When the pattern starts with an unbounded greedy repeat of a one-code-
  // point class (\s+$ and the like), a failed attempt at `at` has tried the
  // rest of the pattern at every end of the run it began; attempts inside
  // the same run would try a subset of those ends, so they are skipped.
  // This keeps long runs (100k spaces) linear instead of quadratic.
  const RegexNode* lead = root_;
  if (lead->kind == RegexNode::Seq && !lead->kids.empty()) lead = lead->kids[0];
  const bool skip_runs =
      lead->kind == RegexNode::Repeat && lead->kids[0]->single && lead->max < 0 && lead->greedy;

  // can_start[i]: keys[i] may begin a match (all true when unknown).
  std::vector<uint8_t> can_start(keys.size(), 1);
  if (first_known_) {
    for (size_t i = 0; i < keys.size(); ++i) {
      bool any = false;
      for (const RegexNode* c : first_) {
        if (c->class_matches(keys[i])) {
          any = true;
          break;
        }
      }
      can_start[i] = any;
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
        for (at = pos; at <= end;) {
          if (first_known_ && (at == end || !can_start[at])) {
            ++at;  // no match can begin here
            continue;
          }
          found = matcher.match_at(root_, at, false);
          if (found >= 0) break;
          if (skip_runs) {
            const size_t r = matcher.run(lead->kids[0], at);
            const size_t lo = static_cast<size_t>(lead->min);
            at += r >= lo ? r - lo + 1 : r + 1;
          } else {
            ++at;
          }
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
