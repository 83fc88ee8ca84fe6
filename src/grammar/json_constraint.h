// Constrained decoding: output that always parses as JSON and matches a JSON
// schema, by construction. Before each sampling step the engine calls mask(),
// which sets to -INFINITY the logit of every token whose bytes cannot continue
// the text so far into a valid document; after sampling it calls accept().
// The module's whole contract is this header.
//
// Supported schema subset (anything else that constrains values is refused
// with SchemaError naming the keyword and the JSON pointer, because hearth
// would otherwise produce output that does not validate):
//   - true / {} (any value), type: object, array, string, number, integer,
//     boolean, null, or an array of these;
//   - object: properties, required, additionalProperties (false, true or a
//     schema). Properties come out in the order the schema lists them
//     (nlohmann::json sorts keys, so for json() that is alphabetical; use
//     json_ordered() to keep the written order). Required ones always appear,
//     optional ones may be skipped. Without additionalProperties (or with
//     false) no other property is produced; with it, additional properties
//     come after the declared ones, their keys differ from every declared key
//     and contain no escapes (unless nothing is declared);
//   - array: items (a schema), minItems, maxItems;
//   - string: minLength, maxLength (code points); format is ignored (any
//     string); no raw control characters, no \u surrogate escapes;
//   - integer: minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers,
//     or draft-4 booleans), enforced digit by digit; no bounds means int64;
//   - number: any JSON number (at most 16 integer digits, 32 fraction digits
//     and a 2-digit exponent, so it parses to a finite double); with bounds,
//     integers in range plus fractions I.xxx whose whole interval [I, I+1) is in
//     range, no exponent (so for minimum 0.5 / maximum 2.5 it writes 1, 1.x, 2);
//   - enum (at most 100,000 values), const (values written compactly as nlohmann::json dumps them,
//     object keys sorted; values that fail the schema's other keywords are
//     dropped);
//   - anyOf, oneOf (treated as anyOf: output matches at least one
//     alternative), allOf with a single schema;
//   - $ref to a JSON pointer within the document ("#", "#/$defs/x",
//     "#/definitions/x"), recursion included;
//   - "type" beside any of these (no other keyword): values of the
//     alternatives (of the target) of those types only, alternatives with
//     none dropped (forced tool calls use it: arguments are an object).
//   Nesting of the schema is limited to 64 levels, of the output to 128
//   frames; a schema whose every value would nest deeper (or infinitely) is
//   refused.
//   Refused: pattern, patternProperties, propertyNames, min/maxProperties,
//   multipleOf, uniqueItems: true, prefixItems, tuple items, contains, not,
//   if/then/else, dependent*, unevaluated*, remote $ref. Annotations (title,
//   description, default, examples, $schema, $id, $comment, format,...) and
//   unknown keywords are ignored.
//
// Whitespace: between tokens of the document (and before and after it) at most
// one space, so the model cannot spend its tokens on blank lines and
// indentation (compact JSON is just as valid). Strings: any JSON string content, escapes and
// multi-byte UTF-8 included; tokens may split a UTF-8 character.
//
// Cost: json() builds a VocabIndex (sorts the token pieces: tens of ms for a
// 150k vocabulary) unless given one; build one per tokenizer and share it.
// mask() walks the pieces in sorted order and reuses the matcher state of the
// common prefix, skipping every piece that shares a rejected prefix; inside a
// string, a piece of plain text is judged by its length alone.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::grammar {

// Thrown for schemas hearth cannot enforce or that are invalid; the message
// names the JSON pointer and the keyword ("schema at '/properties/a': ...").
struct SchemaError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

namespace detail {
struct Grammar;
struct State;
}  // namespace detail

// The vocabulary as the constraint sees it: each token's bytes
// (Tokenizer::piece), grouped and sorted. Immutable; share it between
// constraints of the same tokenizer.
class VocabIndex {
 public:
  static std::shared_ptr<const VocabIndex> build(const tokenizer::Tokenizer& tok);

  int32_t n_vocab = 0;
  std::vector<std::string> pieces;  // distinct non-empty pieces, sorted
  std::vector<uint32_t> lcp;        // common prefix length of pieces[i-1] and pieces[i]
  std::vector<uint32_t> group;      // ids of pieces[i]: ids[group[i] .. group[i+1])
  std::vector<int32_t> ids;         // token ids grouped by piece
  std::vector<int32_t> eog;         // end-of-generation tokens
  std::vector<int32_t> never;       // other tokens with an empty piece (control tokens)
  std::vector<int32_t> piece_of;    // [n_vocab]: index into pieces, -1 if none
  std::vector<uint32_t> plain;      // [pieces]: code points when all of it is plain string
                                    // text (no '"', '\\' or control byte; whole UTF-8), else 0
  size_t max_piece = 0;             // longest piece in bytes
};

class TokenConstraint {
 public:
  // Builds from a JSON schema; nullptr or "json" means any JSON object
  // (Ollama's format: "json"). Throws SchemaError.
  static std::unique_ptr<TokenConstraint> json(const nlohmann::json& schema,
                                               const tokenizer::Tokenizer& tok);
  static std::unique_ptr<TokenConstraint> json(const nlohmann::json& schema,
                                               std::shared_ptr<const VocabIndex> vocab);
  // The same from an ordered_json, whose object properties keep the order in
  // which the schema was written (parse the request with ordered_json).
  static std::unique_ptr<TokenConstraint> json_ordered(const nlohmann::ordered_json& schema,
                                                       std::shared_ptr<const VocabIndex> vocab);

  ~TokenConstraint();

  // Sets to -INFINITY the logits of every token that cannot continue a valid
  // document: tokens with empty pieces (control tokens), and end-of-generation
  // tokens until the document is complete. Once complete, EOG is allowed next
  // to whatever still extends the document (bounded trailing whitespace, more
  // digits of a top-level number). Other logits are left as they are.
  // logits: [n_vocab]. Not thread-safe (uses scratch space of the object).
  // Engine use: per step, copy logits -> mask() -> sample -> accept(token).
  void mask(std::span<float> logits) const;
  // Which tokens mask() would leave alone: allowed[id] for id in [0, n_vocab).
  void allowed(std::vector<bool>& allowed) const;
  // Advances over a sampled token. Throws std::logic_error if it was not
  // allowed (the state is then unchanged). An EOG token ends the document.
  void accept(int32_t token);
  // The text so far is a whole valid document (EOG is allowed).
  bool complete() const;
  std::unique_ptr<TokenConstraint> clone() const;

 private:
  TokenConstraint(std::shared_ptr<const detail::Grammar> g,
                  std::shared_ptr<const VocabIndex> vocab);
  void walk(std::vector<uint8_t>& ok) const;  // ok[i]: pieces[i] allowed

  std::shared_ptr<const detail::Grammar> grammar_;
  std::shared_ptr<const VocabIndex> vocab_;
  std::unique_ptr<detail::State> state_;
  bool ended_ = false;  // an EOG token was accepted
  // mask() scratch: matcher states per piece depth, verdicts per piece.
  mutable std::vector<detail::State> scratch_;
  mutable std::vector<uint8_t> ok_;
};

}  // namespace hearth::grammar
