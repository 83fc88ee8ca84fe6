#include "engine/prompt.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "engine/session.h"
#include "tokenizer/tokenizer.h"

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

// Turn markers of widespread templates written as text (Llama 2 and Mistral
// write [INST] as text, not as a control token), and control tokens that
// vocabularies without the template's tokens would split.
constexpr std::string_view kTextMarkers[] = {
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[TOOL_CALLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[AVAILABLE_TOOLS]",
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|end|>",
    "### Instruction:",
    "### Response:",
};

// A vocabulary token that reads as markup: "<...>" or "[...]" (user-defined
// tokens also include runs of spaces and newlines, which markup has too).
bool marker_shaped(std::string_view t) {
  return t.size() >= 3 &&
         ((t.front() == '<' && t.back() == '>') || (t.front() == '[' && t.back() == ']'));
}

// Bytes of the UTF-8 character that starts `s` (1 for a stray byte).
size_t first_char_bytes(std::string_view s) {
  const auto c = static_cast<unsigned char>(s[0]);
  const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return std::min(n, s.size());
}

// Applies `policy` to the turn markers in the content of users' turns;
// returns how many were neutralised.
int64_t guard_markers(std::vector<chat::Message>& messages, const std::vector<std::string>& markers,
                      MarkerPolicy policy) {
  static constexpr std::string_view kZeroWidthSpace = "\xE2\x80\x8B";
  // Only a marker's first byte can start one: most of a long text is skipped at a glance.
  std::bitset<256> first;
  for (const auto& k : markers)
    if (!k.empty()) first.set(static_cast<unsigned char>(k[0]));
  int64_t n = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    auto& m = messages[i];
    if (m.role != "user" && m.role != "tool") continue;
    std::string out;
    size_t copied = 0;
    for (size_t at = 0; at < m.content.size(); ++at) {
      if (!first.test(static_cast<unsigned char>(m.content[at]))) continue;
      const std::string_view rest = std::string_view(m.content).substr(at);
      const auto hit = std::find_if(markers.begin(), markers.end(),
                                    [&](const std::string& k) { return rest.starts_with(k); });
      if (hit == markers.end()) continue;
      if (policy == MarkerPolicy::kRefuse)
        throw InputError(fmt::format(
            "message {} ({}) contains the model's turn marker \"{}\"; strict input refuses it", i,
            m.role, *hit));
      const size_t cut = at + first_char_bytes(*hit);
      out.append(m.content, copied, cut - copied).append(kZeroWidthSpace);
      copied = cut;
      ++n;
    }
    if (copied) m.content = out.append(m.content, copied);
  }
  return n;
}

// A conversation that ends with the assistant's text is a prefill: the reply
// continues that text (Anthropic's Messages API; Ollama and llama.cpp do the
// same). The template renders the turn as it renders any assistant turn (its
// spacing included: Llama 2's " " before the text) and the prompt ends where
// the text does, before the turn's closing markup.
bool is_prefill(const std::vector<chat::Message>& messages) {
  return !messages.empty() && messages.back().role == "assistant" &&
         messages.back().tool_calls.empty() &&
         messages.back().content.find_first_not_of(" \t\r\n") != std::string::npos;
}

// Where the prefill's text ends in `closed` (the conversation rendered
// without a generation prompt); npos when the template did not write it.
size_t prefill_end(std::string_view closed, std::string_view text) {
  const auto b = text.find_first_not_of(" \t\r\n");
  text = text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
  const size_t at = closed.rfind(text);
  return at == std::string_view::npos ? at : at + text.size();
}

// For templates that insist on alternating roles (Llama 2, Mistral, Gemma),
// which refuse two user turns in a row (a tool's result and then a question,
// or a client's consecutive messages): consecutive user turns (and assistant
// turns) become one, their texts a blank line apart, as Anthropic's API
// promises, and every system message joins the first. false when nothing
// changes.
bool join_turns(std::vector<chat::Message>& history) {
  std::vector<chat::Message> out;
  std::string system;
  bool any_system = false;
  for (const auto& m : history) {
    if (m.role == "system") {
      system += (any_system ? "\n\n" : "") + m.content;
      any_system = true;
    } else if (!out.empty() && out.back().role == m.role &&
               (m.role == "user" || m.role == "assistant") && out.back().tool_calls.empty() &&
               m.tool_calls.empty()) {
      out.back().content.append("\n\n").append(m.content);
    } else {
      out.push_back(m);
    }
  }
  if (any_system) out.insert(out.begin(), {"system", std::move(system)});
  const bool changed = out.size() != history.size() ||
                       !std::equal(out.begin(), out.end(), history.begin(),
                                   [](const auto& a, const auto& b) { return a.role == b.role; });
  if (changed) history = std::move(out);
  return changed;
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

std::vector<std::string> turn_markers(const Runtime& rt, const chat::ChatTemplate& tmpl) {
  const auto& tok = *rt.tokenizer;
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  // Placeholders for the messages: what is left without them is markup.
  const std::string ph = "\x01";
  std::string markup;
  try {
    markup =
        tmpl.apply({{"system", ph}, {"user", ph}, {"assistant", ph}, {"user", ph}}, true, bos, eos);
  } catch (const std::exception&) {
    try {  // templates that refuse a system turn
      markup = tmpl.apply({{"user", ph}, {"assistant", ph}, {"user", ph}}, true, bos, eos);
    } catch (const std::exception&) {
      markup = tmpl.source();
    }
  }
  std::vector<std::string> out;
  auto consider = [&](std::string_view m) {
    if (markup.find(m) != std::string::npos && std::find(out.begin(), out.end(), m) == out.end())
      out.emplace_back(m);
  };
  for (const auto m : kTextMarkers) consider(m);
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    const auto type = tok.type(id);
    if ((type == tokenizer::TokenType::Control || type == tokenizer::TokenType::UserDefined) &&
        marker_shaped(tok.token_text(id)))
      consider(tok.token_text(id));
  }
  // Longest first, so that "[/INST]" is matched before a shorter marker inside it.
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

std::vector<int32_t> render_chat(const Runtime& rt, const chat::ChatTemplate& tmpl,
                                 const std::vector<chat::Message>& messages,
                                 const nlohmann::ordered_json& vars,
                                 const std::string& reply_prefix) {
  const auto& tok = *rt.tokenizer;
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  std::string text;
  if (is_prefill(messages)) {
    text = tmpl.apply(messages, /*add_generation_prompt=*/false, bos, eos, vars);
    const size_t cut = prefill_end(text, messages.back().content);
    // A template that does not write it: the generation prompt, as for any turn.
    cut != std::string::npos ? text.resize(cut) : text.clear();
  }
  if (text.empty()) text = tmpl.apply(messages, /*add_generation_prompt=*/true, bos, eos, vars);
  text += reply_prefix;
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

  if (!spec.chat && !spec.suffix.empty()) {
    // Fill in the middle: the markers are control tokens, the texts are not.
    if (!tok.has_fim())
      throw InputError(
          "the model does not support insert (its vocabulary has no fill-in-the-middle "
          "tokens)");
    std::vector<int32_t> ids = spec.context;
    if (ids.empty() && tok.add_bos_default() && tok.bos() >= 0) ids.push_back(tok.bos());
    ids.push_back(tok.fim_pre());
    for (const int32_t id : tok.encode(spec.prompt, false, /*parse_special=*/false))
      ids.push_back(id);
    ids.push_back(tok.fim_suf());
    for (const int32_t id : tok.encode(spec.suffix, false, /*parse_special=*/false))
      ids.push_back(id);
    ids.push_back(tok.fim_mid());
    p.tokens = std::move(ids);
  } else if (!spec.chat && spec.raw) {
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
    p.neutralised_markers = guard_markers(history, turn_markers(rt, *tmpl), spec.markers);
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
    p.prefill = is_prefill(history);
    try {
      p.tokens = render();
    } catch (const chat::TemplateError&) {
      if (!join_turns(history)) throw;
      p.tokens = render();
    }
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
  // A raw completion of nothing continues BOS (text from the start, as
  // llama.cpp's server and OpenAI's completions give); without BOS there is
  // nothing to continue.
  if (p.tokens.empty()) throw std::invalid_argument("the prompt is empty");
  const auto size = static_cast<int64_t>(p.tokens.size());
  // A completion's prompt keeps its end (templated: BOS, then the end of the
  // text and the template's closing markup), as Ollama's runner cuts it; and,
  // as a chat's oldest turns do, it leaves the reply its room even when it
  // would fit without (else a prompt one token short of the context would get
  // a one-token reply where one a token longer gets all of it).
  if (!spec.chat && spec.suffix.empty() && limits.truncate && size > budget) {
    p.tokens = keep_end(p.tokens, tok.bos(), budget);
    p.truncated = true;
  } else if (size >= n_ctx) {
    throw ContextError(
        fmt::format("the prompt has {} tokens but the context holds {} (raise the context size "
                    "(num_ctx, --ctx), or shorten the prompt)",
                    p.tokens.size(), n_ctx));
  }
  return p;
}

}  // namespace hearth::engine
