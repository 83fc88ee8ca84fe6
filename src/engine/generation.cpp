#include "engine/generation.h"

#include <algorithm>
#include <cmath>

namespace hearth::engine {

std::vector<TokenProb> top_probs(std::span<const float> logits, int n) {
  if (logits.empty() || n <= 0) return {};
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  const size_t k = std::min(static_cast<size_t>(n), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<TokenProb> out(k);
  for (size_t i = 0; i < k; ++i)
    out[i] = {ids[i],
              static_cast<float>(std::exp(static_cast<double>(logits[ids[i]] - max)) / sum)};
  return out;
}

namespace {
// ln softmax(logits)[id], in double so that a 150k vocabulary sums exactly enough.
float log_prob(std::span<const float> logits, int32_t id) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)] - max) -
                            std::log(sum));
}
}  // namespace

Generation::Generation(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                       const GenerateOptions& options, TextCallback on_text)
    : tok_(tok),
      o_(options),
      on_text_(std::move(on_text)),
      sampler_(options.sampler),
      stops_(options.stop),
      decoder_(tok, options.render_special) {
  for (int32_t t : prompt) sampler_.accept(t);
  if (o_.constraint) constraint_ = o_.constraint();
  r_.done_reason = "length";
  started_ = !o_.trim_leading_space;
}

Generation::~Generation() = default;

bool Generation::emit(const std::string& text) {
  std::string_view piece = text;
  if (!started_) {
    const auto first = piece.find_first_not_of(" \t");
    if (first == std::string_view::npos) return true;
    piece.remove_prefix(first);
    started_ = true;
  }
  if (piece.empty()) return true;
  r_.text += piece;
  return on_text_ ? on_text_(piece, r_) : true;
}

std::optional<int32_t> Generation::step(std::span<const float> logits, bool room) {
  if (done_) return std::nullopt;
  const int64_t i = static_cast<int64_t>(r_.tokens.size());
  if (o_.max_tokens >= 0 && i >= o_.max_tokens) {  // num_predict 0
    done_ = true;
    return std::nullopt;
  }
  if (o_.n_probs > 0) r_.top.push_back(top_probs(logits, o_.n_probs));
  work_.assign(logits.begin(), logits.end());
  for (const auto& [t, bias] : o_.logit_bias) work_[static_cast<size_t>(t)] += bias;
  if (constraint_) constraint_->mask(work_);
  const int32_t id = sampler_.sample(work_);
  sampler_.accept(id);
  if (tok_.is_eog(id)) {
    r_.done_reason = "stop";
    done_ = true;
    return std::nullopt;
  }
  if (constraint_) constraint_->accept(id);
  r_.tokens.push_back(id);
  if (o_.logprobs) r_.logprobs.push_back(log_prob(logits, id));
  const auto s = stops_.push(decoder_.push(id));
  if (!emit(s.emit) || s.stopped) {
    r_.done_reason = "stop";
    r_.stop_sequence = stops_.matched();
    stopped_ = true;
    done_ = true;
    return std::nullopt;
  }
  if (o_.max_tokens >= 0 && i + 1 >= o_.max_tokens) {
    done_ = true;
    return std::nullopt;
  }
  if (!room) {  // "length": the context is full
    done_ = true;
    return std::nullopt;
  }
  ++r_.timings.gen_tokens;
  return id;
}

void Generation::cancel() {
  if (done_) return;
  r_.done_reason = "stop";
  stopped_ = true;  // what was held back is dropped with the request
  done_ = true;
}

void Generation::finish() {
  done_ = true;
  if (stopped_) return;
  // Text held back by the decoder (a partial character) or by a stop string
  // that never completed belongs to the output.
  const auto s = stops_.push(decoder_.flush());
  emit(s.emit);
  if (s.stopped) r_.done_reason = "stop", r_.stop_sequence = stops_.matched();
  emit(stops_.flush());
  stopped_ = true;  // finish() is idempotent
}

}  // namespace hearth::engine
