#include "grammar/json_constraint.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "grammar/json_matcher.h"
#include "grammar/schema.h"

namespace hearth::grammar {

using detail::Grammar;
using detail::Machine;
using detail::State;

std::shared_ptr<const VocabIndex> VocabIndex::build(const tokenizer::Tokenizer& tok) {
  auto v = std::make_shared<VocabIndex>();
  v->n_vocab = tok.n_vocab();
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(static_cast<size_t>(v->n_vocab));
  for (int32_t id = 0; id < v->n_vocab; ++id) {
    if (tok.is_eog(id)) {
      v->eog.push_back(id);
      continue;
    }
    std::string p = tok.piece(id);
    if (p.empty()) {
      v->never.push_back(id);
    } else {
      entries.emplace_back(std::move(p), id);
    }
  }
  std::sort(entries.begin(), entries.end());
  v->piece_of.assign(static_cast<size_t>(v->n_vocab), -1);
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& [piece, id] = entries[i];
    if (v->pieces.empty() || v->pieces.back() != piece) {
      const std::string* prev = v->pieces.empty() ? nullptr : &v->pieces.back();
      uint32_t l = 0;
      if (prev)
        while (l < prev->size() && l < piece.size() && (*prev)[l] == piece[l]) ++l;
      v->lcp.push_back(l);
      v->group.push_back(static_cast<uint32_t>(v->ids.size()));
      v->max_piece = std::max(v->max_piece, piece.size());
      v->plain.push_back(detail::plain_text_chars(piece));
      v->pieces.push_back(std::move(piece));
    }
    v->piece_of[static_cast<size_t>(id)] = static_cast<int32_t>(v->pieces.size() - 1);
    v->ids.push_back(id);
  }
  v->group.push_back(static_cast<uint32_t>(v->ids.size()));
  return v;
}

TokenConstraint::TokenConstraint(std::shared_ptr<const Grammar> g,
                                 std::shared_ptr<const VocabIndex> vocab)
    : grammar_(std::move(g)),
      vocab_(std::move(vocab)),
      state_(std::make_unique<State>(Machine(*grammar_).initial(grammar_->root))) {}

TokenConstraint::~TokenConstraint() = default;

std::unique_ptr<TokenConstraint> TokenConstraint::json(const nlohmann::json& schema,
                                                       const tokenizer::Tokenizer& tok) {
  auto g = std::make_shared<const Grammar>(detail::compile_schema(schema));
  return std::unique_ptr<TokenConstraint>(
      new TokenConstraint(std::move(g), VocabIndex::build(tok)));
}

std::unique_ptr<TokenConstraint> TokenConstraint::json(const nlohmann::json& schema,
                                                       std::shared_ptr<const VocabIndex> vocab) {
  auto g = std::make_shared<const Grammar>(detail::compile_schema(schema));
  return std::unique_ptr<TokenConstraint>(new TokenConstraint(std::move(g), std::move(vocab)));
}

std::unique_ptr<TokenConstraint> TokenConstraint::json_ordered(
    const nlohmann::ordered_json& schema, std::shared_ptr<const VocabIndex> vocab) {
  auto g = std::make_shared<const Grammar>(detail::compile_schema(schema));
  return std::unique_ptr<TokenConstraint>(new TokenConstraint(std::move(g), std::move(vocab)));
}

std::unique_ptr<TokenConstraint> TokenConstraint::clone() const {
  auto c = std::unique_ptr<TokenConstraint>(new TokenConstraint(grammar_, vocab_));
  *c->state_ = *state_;
  c->ended_ = ended_;
  return c;
}

bool TokenConstraint::complete() const { return ended_ || Machine(*grammar_).complete(*state_); }

void TokenConstraint::walk(std::vector<uint8_t>& ok) const {
  const VocabIndex& v = *vocab_;
  ok.assign(v.pieces.size(), 0);
  if (ended_) return;
  const Machine m(*grammar_);
  if (scratch_.size() < v.max_piece + 1) scratch_.resize(v.max_piece + 1);
  scratch_[0].assign(*state_);
  // scratch_[d] is the state after the first d bytes of the previous piece,
  // for d <= valid; sorted order makes consecutive pieces share prefixes.
  size_t valid = 0;
  const size_t n = v.pieces.size();
  const uint32_t plain_run = m.plain_run(*state_);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = v.pieces[i];
    if (plain_run > 0 && v.plain[i] > 0) {  // judged without a walk
      ok[i] = v.plain[i] <= plain_run;
      // scratch_ still holds the last walked piece's prefix states, as far
      // as that prefix is shared with this piece and so with the next.
      valid = std::min<size_t>(valid, v.lcp[i]);
      continue;
    }
    size_t d = std::min<size_t>(v.lcp[i], valid);
    bool good = true;
    for (; d < p.size(); ++d) {
      if (!m.advance(scratch_[d], static_cast<uint8_t>(p[d]), scratch_[d + 1])) {
        good = false;
        break;
      }
    }
    valid = d;
    if (good) {
      ok[i] = 1;
    } else {  // every following piece that starts with p[0..d] fails the same way
      while (i + 1 < n && v.lcp[i + 1] > d) ++i;
    }
  }
}

void TokenConstraint::mask(std::span<float> logits) const {
  const VocabIndex& v = *vocab_;
  if (logits.size() != static_cast<size_t>(v.n_vocab))
    throw std::invalid_argument("TokenConstraint::mask: " + std::to_string(logits.size()) +
                                " logits for a vocabulary of " + std::to_string(v.n_vocab));
  walk(ok_);
  for (size_t i = 0; i < ok_.size(); ++i)
    if (!ok_[i])
      for (uint32_t j = v.group[i]; j < v.group[i + 1]; ++j) logits[v.ids[j]] = -INFINITY;
  for (const int32_t id : v.never) logits[id] = -INFINITY;
  if (!complete())
    for (const int32_t id : v.eog) logits[id] = -INFINITY;
}

void TokenConstraint::allowed(std::vector<bool>& allowed) const {
  const VocabIndex& v = *vocab_;
  walk(ok_);
  allowed.assign(static_cast<size_t>(v.n_vocab), false);
  for (size_t i = 0; i < ok_.size(); ++i)
    if (ok_[i])
      for (uint32_t j = v.group[i]; j < v.group[i + 1]; ++j) allowed[v.ids[j]] = true;
  if (complete())
    for (const int32_t id : v.eog) allowed[id] = true;
}

void TokenConstraint::accept(int32_t token) {
  const VocabIndex& v = *vocab_;
  if (token < 0 || token >= v.n_vocab)
    throw std::logic_error("TokenConstraint::accept: token " + std::to_string(token) +
                           " is outside the vocabulary of " + std::to_string(v.n_vocab));
  if (std::find(v.eog.begin(), v.eog.end(), token) != v.eog.end()) {
    if (!complete())
      throw std::logic_error("TokenConstraint::accept: end-of-generation token " +
                             std::to_string(token) + " before the JSON document is complete");
    ended_ = true;
    return;
  }
  const int32_t p = v.piece_of[static_cast<size_t>(token)];
  if (ended_ || p < 0)
    throw std::logic_error("TokenConstraint::accept: token " + std::to_string(token) +
                           (ended_ ? " after the end of generation" : " has no text"));
  const Machine m(*grammar_);
  State a, b;
  a.assign(*state_);
  for (const char c : v.pieces[static_cast<size_t>(p)]) {
    if (!m.advance(a, static_cast<uint8_t>(c), b))
      throw std::logic_error("TokenConstraint::accept: token " + std::to_string(token) + " ('" +
                             v.pieces[static_cast<size_t>(p)] +
                             "') cannot continue the JSON document");
    std::swap(a, b);
  }
  *state_ = std::move(a);
}

}  // namespace hearth::grammar
