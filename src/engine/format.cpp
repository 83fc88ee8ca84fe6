#include "engine/format.h"

#include "grammar/json_constraint.h"

namespace hearth::engine {
namespace {

class JsonConstraint final : public LogitConstraint {
 public:
  explicit JsonConstraint(std::unique_ptr<grammar::TokenConstraint> c) : c_(std::move(c)) {}
  void mask(std::span<float> logits) const override { c_->mask(logits); }
  void accept(int32_t token) override { c_->accept(token); }
  bool complete() const override { return c_->complete(); }

 private:
  std::unique_ptr<grammar::TokenConstraint> c_;
};

}  // namespace

std::function<std::unique_ptr<LogitConstraint>()> json_format(
    const Runtime& rt, const nlohmann::ordered_json& schema) {
  std::shared_ptr<const grammar::TokenConstraint> proto =
      grammar::TokenConstraint::json_ordered(schema, rt.vocab_index());
  return [proto]() -> std::unique_ptr<LogitConstraint> {
    return std::make_unique<JsonConstraint>(proto->clone());
  };
}

}  // namespace hearth::engine
