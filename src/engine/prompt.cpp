#include "engine/prompt.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "engine/session.h"

namespace hearth::engine {
namespace {

// Byte ranges of `rendered` that hold the messages' content: each message's
// text (or, when the template trimmed it, its trimmed text) looked for in
// order after the previous one.
std::vector<std::pair<size_t, size_t>> content_ranges(std::string_view rendered,
                                                      const std::vector<chat::Message>& messages) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t from = 0;
  for (const auto& m : messages) {
    std::string_view c = m.content;
    size_t at = c.empty() ? std::string_view::npos : rendered.find(c, from);
    if (at == std::string_view::npos) {
      const auto b = c.find_first_not_of(" \t\r\n");
      if (b == std::string_view::npos) continue;
      c = c.substr(b, c.find_last_not_of(" \t\r\n") - b + 1);
      at = rendered.find(c, from);
      if (at == std::string_view::npos) continue;
    }
    out.emplace_back(at, at + c.size());
    from = at + c.size();
  }
  return out;
}

// Keeps BOS (when `ids` starts with it) and the last tokens, `keep` in all.
std::vector<int32_t> keep_end(const std::vector<int32_t>& ids, int32_t bos, int64_t keep) {
  if (static_cast<int64_t>(ids.size()) <= keep) return ids;
  const bool has_bos = bos >= 0 && !ids.empty() && ids[0] == bos;
  std::vector<int32_t> out;
  if (has_bos) out.push_back(bos);
  out.insert(out.end(), ids.end() - (keep - (has_bos ? 1 : 0)), ids.end());
  return out;
}

}  // namespace

std::vector<int32_t> render_chat(const Runtime& rt, const chat::ChatTemplate& tmpl,
                                 const std::vector<chat::Message>& messages,
                                 const nlohmann::ordered_json& vars,
                                 const std::string& reply_prefix) {
  const auto& tok = *rt.tokenizer;
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  const std::string text =
      tmpl.apply(messages, /*add_generation_prompt=*/true, bos, eos, vars) + reply_prefix;
  const auto literal = content_ranges(text, messages);
  std::vector<int32_t> ids = tok.encode_rendered(text, /*add_bos=*/false, literal);
  // BOS once: templates that write it themselves get no second one.
  if (tok.add_bos_default() && tok.bos() >= 0 && (ids.empty() || ids[0] != tok.bos()))
    ids.insert(ids.begin(), tok.bos());
  return ids;
}

Prompt build_prompt(const Runtime& rt, const PromptSpec& spec, const PromptLimits& limits) {
  const int64_t n_ctx = limits.n_ctx;
  if (n_ctx <= 1) throw std::invalid_argument("build_prompt: context too small");
  // Room left for the reply: up to a quarter of the context.
  const int64_t reserve =
      limits.num_predict >= 0 ? std::min(limits.num_predict, n_ctx / 4) : n_ctx / 4;
  const int64_t budget = std::max<int64_t>(n_ctx - reserve, 1);
  const auto& tok = *rt.tokenizer;
  Prompt p;

  if (!spec.chat && spec.raw) {
    // Raw completion: the text itself, after any earlier context.
    std::vector<int32_t> ids = spec.context;
    const auto text = tok.encode(spec.prompt, spec.context.empty() && tok.add_bos_default(),
                                 /*parse_special=*/false);
    ids.insert(ids.end(), text.begin(), text.end());
    p.tokens = std::move(ids);
  } else {
    std::unique_ptr<chat::ChatTemplate> own;
    const chat::ChatTemplate* tmpl = rt.chat_template.get();
    if (spec.template_text.empty() && !tmpl)
      throw chat::TemplateError("the model's chat template cannot be used: " + rt.template_error);
    if (!spec.template_text.empty()) {
      own = std::make_unique<chat::ChatTemplate>(spec.template_text);
      tmpl = own.get();
    }
    std::vector<chat::Message> history = spec.messages;
    if (!spec.chat) history = {{"user", spec.prompt}};
    const bool has_system = std::any_of(history.begin(), history.end(),
                                        [](const auto& m) { return m.role == "system"; });
    // Everything before the first non-system message is kept whatever happens.
    auto render = [&] {
      std::vector<chat::Message> msgs;
      if (!spec.system.empty() && !has_system) msgs.push_back({"system", spec.system});
      msgs.insert(msgs.end(), history.begin(), history.end());
      std::vector<int32_t> ids = spec.context;
      const auto r = render_chat(rt, *tmpl, msgs, spec.template_vars, spec.reply_prefix);
      // Continuing a context: the new turn's BOS is not repeated.
      const bool skip_bos = !ids.empty() && !r.empty() && r[0] == tok.bos();
      ids.insert(ids.end(), r.begin() + (skip_bos ? 1 : 0), r.end());
      return ids;
    };
    p.tokens = render();
    // Oldest turns give way, a whole exchange at a time so that the remaining
    // conversation still starts with a user turn (templates insist on the
    // alternation); never the system message, never the last message.
    auto first_turn = [&] {
      return std::find_if(history.begin(), history.end(),
                          [](const auto& m) { return m.role != "system"; });
    };
    while (limits.truncate && static_cast<int64_t>(p.tokens.size()) > budget) {
      auto first = first_turn();
      if (first == history.end() || first + 1 >= history.end()) break;
      do {
        history.erase(first);
        ++p.dropped_messages;
        first = first_turn();
      } while (first != history.end() && first + 1 < history.end() && first->role != "user");
      p.tokens = render();
    }
  }
  if (p.tokens.empty() ||
      (p.tokens.size() == 1 && p.tokens[0] == tok.bos() && !spec.chat && spec.prompt.empty()))
    throw std::invalid_argument("the prompt is empty");
  if (static_cast<int64_t>(p.tokens.size()) >= n_ctx) {
    if (!spec.chat && spec.raw && limits.truncate) {
      p.tokens = keep_end(p.tokens, tok.bos(), budget);
      p.truncated = true;
    } else {
      throw ContextError(
          fmt::format("the prompt has {} tokens but the context holds {} (raise the context size "
                      "(num_ctx, --ctx), or shorten the prompt)",
                      p.tokens.size(), n_ctx));
    }
  }
  return p;
}

}  // namespace hearth::engine
