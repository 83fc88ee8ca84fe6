// The one path from an InferenceRequest to the scheduler and back (inference.h).
#include "server/inference.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "engine/format.h"
#include "engine/limits.h"
#include "grammar/json_constraint.h"
#include "sampling/param_error.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using Json = ollama::Json;
using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

engine::KeepAlive keep_alive(const std::optional<ollama::KeepAlive>& k,
                             const engine::KeepAlive& fallback) {
  if (!k) return fallback;
  if (k->is_forever()) return engine::KeepAlive::never_expire();
  return {k->duration(), false};
}

// The key of a deterministic request in the response cache: everything that
// decides the tokens (the prompt tokens already hold the template, tools and
// reasoning switches).
std::string cache_key(const ResolvedModel& m, const std::vector<int32_t>& prompt,
                      const engine::GenerateOptions& g, const std::string& format, int64_t n_ctx,
                      bool forced) {
  const auto& s = g.sampler;
  nlohmann::json k = {
      {"m", m.key},
      {"p", prompt},
      {"ctx", n_ctx},
      {"n", g.max_tokens},
      {"stop", g.stop},
      {"trim", g.trim_leading_space},
      {"fmt", format},
      {"forced", forced},
      {"bias", g.logit_bias},
      {"lp", {g.logprobs, g.n_probs}},
      {"s",
       {s.temperature, s.top_k, s.top_p, s.min_p, s.typical_p, s.repeat_penalty, s.repeat_last_n,
        s.presence_penalty, s.frequency_penalty, s.temperature <= 0 ? 0 : s.seed}}};
  return k.dump();
}

// Appends `text` to the system message (the first message's, or the spec's own).
void add_to_system(engine::PromptSpec& spec, const std::string& text) {
  for (auto& m : spec.messages)
    if (m.role == "system") {
      m.content = m.content.empty() ? text : m.content + "\n\n" + text;
      return;
    }
  spec.system = spec.system.empty() ? text : spec.system + "\n\n" + text;
}

// For a template with no notion of tools (it renders only role and content,
// and often insists that user and assistant alternate): earlier calls become
// the assistant's text in the syntax the system prompt taught, and tool
// results a user turn, consecutive ones joined.
void flatten_tool_turns(std::vector<chat::Message>& messages) {
  std::vector<chat::Message> out;
  for (auto& m : messages) {
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      std::string text = m.content;
      for (const auto& c : m.tool_calls) {
        Json call = Json::object();
        call["name"] = c.name;
        call["arguments"] = c.arguments;
        if (!text.empty()) text += '\n';
        text.append("<tool_call>\n").append(call.dump()).append("\n</tool_call>");
      }
      out.push_back({"assistant", text});
    } else if (m.role == "tool") {
      std::string text = "<tool_response>\n";
      text.append(m.content).append("\n</tool_response>");
      if (!out.empty() && out.back().role == "user" &&
          out.back().content.starts_with("<tool_response>"))
        out.back().content.append(1, '\n').append(text);
      else
        out.push_back({"user", std::move(text)});
    } else {
      out.push_back(std::move(m));
    }
  }
  messages = std::move(out);
}

// A run of n choices, shared by the scheduler's callbacks.
struct RunState {
  std::mutex mu;  // held while submitting, so that no piece overtakes begin()
  std::shared_ptr<Exchange> ex;
  std::shared_ptr<InferenceSink> sink;
  engine::ModelManager::Lease lease;
  bool stream = false;
  bool forced = false;  // the reply is a call's JSON (tool_choice required / named)
  chat::ToolSyntax syntax = chat::ToolSyntax::kGeneric;
  bool tools_given = false, thinking_open = false;
  std::string cache_key;
  Steady::time_point t0;
  std::string model;                // the store's name, for the metrics
  Steady::time_point last_piece{};  // metrics: none yet while == {}
  std::vector<std::unique_ptr<chat::ReplyStream>> streams;
  std::vector<std::vector<std::string>> pieces;  // per choice, for the cache
  Outcome outcome;
  int remaining = 0;
  bool failed = false;
  // --log-content: the number the request's prompt and reply lines share (0: not logged).
  uint64_t log_id = 0;
};

// Splits a finished choice's text into its reply.
void finish_choice(RunState& st, Choice& c, const tokenizer::Tokenizer& tok) {
  if (st.log_id) spdlog::info("content #{} reply {}: {:?}", st.log_id, c.index, c.result.text);
  if (!c.result.logprobs.empty()) {
    for (int32_t t : c.result.tokens) c.token_text.push_back(tok.piece(t));
    for (const auto& alts : c.result.top) {
      c.top_text.emplace_back();
      for (const auto& a : alts) c.top_text.back().push_back(tok.piece(a.id));
    }
  }
  if (st.forced) {
    c.reply.calls = chat::parse_forced(c.result.text, st.syntax);
    if (c.reply.calls.empty()) c.reply.content = c.result.text;  // cut short by the length
  } else {
    c.reply = chat::parse_reply(c.result.text, st.syntax, st.tools_given, st.thinking_open);
  }
  c.finish_reason = !c.reply.calls.empty() ? "tool_calls" : c.result.done_reason;
}

// The events of a whole text, as streaming would have sent them.
void replay(RunState& st, int index, const std::vector<std::string>& pieces) {
  if (st.forced) return;  // a forced call comes out whole at the end
  auto& rs = *st.streams[static_cast<size_t>(index)];
  for (const auto& p : pieces)
    for (const auto& e : rs.feed(p)) st.sink->event(index, e);
}

void stream_end(RunState& st, int index, const Choice& c) {
  if (st.forced) {
    for (const auto& call : c.reply.calls) {
      chat::ReplyStream::Event e;
      e.kind = chat::ReplyStream::Event::Kind::kToolCall;
      e.call = call;
      st.sink->event(index, e);
    }
    if (c.reply.calls.empty() && !c.reply.content.empty()) {
      chat::ReplyStream::Event e;
      e.kind = chat::ReplyStream::Event::Kind::kContent;
      e.text = c.reply.content;
      st.sink->event(index, e);
    }
    return;
  }
  for (const auto& e : st.streams[static_cast<size_t>(index)]->finish()) st.sink->event(index, e);
}

}  // namespace

Settings settings_of(const ollama::Options& opt) {
  Settings s;
  auto& sp = s.gen.sampler;
  if (opt.temperature) sp.temperature = *opt.temperature;
  // Narrowed to int without touching a value the sampler's checks refuse, so
  // their error shows the user's number; above 2^30 means "all" anyway.
  const auto narrow = [](int64_t v) {
    return static_cast<int>(std::clamp<int64_t>(v, std::numeric_limits<int>::min(), 1 << 30));
  };
  if (opt.top_k) sp.top_k = narrow(*opt.top_k);
  if (opt.top_p) sp.top_p = *opt.top_p;
  if (opt.min_p) sp.min_p = *opt.min_p;
  if (opt.typical_p) sp.typical_p = *opt.typical_p;
  if (opt.repeat_last_n) sp.repeat_last_n = narrow(*opt.repeat_last_n);
  if (opt.repeat_penalty) sp.repeat_penalty = *opt.repeat_penalty;
  if (opt.presence_penalty) sp.presence_penalty = *opt.presence_penalty;
  if (opt.frequency_penalty) sp.frequency_penalty = *opt.frequency_penalty;
  // Ollama: a negative seed draws a random one.
  if (opt.seed && *opt.seed >= 0) sp.seed = static_cast<uint64_t>(*opt.seed);
  sampling::validate(sp);
  if (opt.num_predict) {
    engine::validate_num_predict(*opt.num_predict);
    s.gen.max_tokens = *opt.num_predict < 0 ? -1 : *opt.num_predict;
  }
  if (opt.stop) s.gen.stop = *opt.stop;
  if (opt.num_ctx) {
    engine::validate_context_range(*opt.num_ctx);
    s.num_ctx = *opt.num_ctx;
  }
  return s;
}

Settings Server::Impl::settings(const ResolvedModel& m, const ollama::Options& request) const {
  const auto stored = ollama::parse_options(m.parameters, "parameter").options;
  Settings s = settings_of(ollama::merge_options(stored, request));
  if (s.num_ctx == 0) s.num_ctx = o.default_num_ctx;
  return s;
}

engine::KeepAlive Server::Impl::keep_alive_of(const std::optional<ollama::KeepAlive>& k) const {
  return keep_alive(k, o.default_keep_alive);
}

// A request made ready to run: the model leased, the prompt rendered, the
// reply's shape decided.
struct Server::Impl::Prepared {
  ResolvedModel rm;
  Settings st;
  engine::ModelManager::Lease lease;
  double load_s = 0;
  int64_t n_ctx = 0;
  engine::Prompt prompt;
  chat::ToolSyntax syntax = chat::ToolSyntax::kGeneric;
  bool tools_given = false, forced = false, thinking_open = false;
  Json schema;  // the output constraint: null for none
};

Server::Impl::Prepared Server::Impl::prepare(InferenceRequest& req, bool counting) {
  Prepared pr;
  pr.rm = resolve(req.model);
  const auto& rm = pr.rm;
  pr.st = settings(rm, req.options);
  auto& st = pr.st;
  pr.lease = models.acquire({rm.key, rm.name, rm.path, st.num_ctx}, keep_alive_of(req.keep_alive),
                            &pr.load_s);
  const auto& rt = pr.lease->rt;
  pr.n_ctx = pr.lease->scheduler->options().n_ctx;
  const int64_t n_ctx = pr.n_ctx;

  auto& spec = req.prompt;
  for (int32_t t : spec.context)
    if (t < 0 || t >= rt.tokenizer->n_vocab())
      throw HttpError(400, fmt::format("context holds token {} outside the vocabulary of {}", t,
                                       rt.tokenizer->n_vocab()));
  if (spec.template_text.empty()) spec.template_text = rm.template_text;
  if (spec.system.empty()) spec.system = rm.system;
  if (spec.chat && !rm.messages.empty()) {
    std::vector<chat::Message> stored;
    for (const auto& [role, content] : rm.messages) stored.push_back({role, content});
    spec.messages.insert(spec.messages.begin(), stored.begin(), stored.end());
  }
  const std::string& source = !spec.template_text.empty() ? spec.template_text
                              : rt.chat_template          ? rt.chat_template->source()
                                                          : std::string();
  pr.syntax = chat::tool_syntax(source);
  chat::fit_call_ids(spec.messages, pr.syntax);
  const bool takes_tools = chat::template_takes_tools(source);
  if (!takes_tools) flatten_tool_turns(spec.messages);

  // Reasoning: a template that thinks does unless told not to.
  const bool thinks = spec.chat && chat::template_thinks(source);
  if (req.think.value_or(false) && !thinks)
    throw HttpError(400, fmt::format("\"{}\" does not support thinking", req.model));
  const bool thinking = thinks && req.think.value_or(true);
  if (thinks) spec.template_vars["enable_thinking"] = thinking;

  // Tools: given to the template (or, for one that has no place for them, to
  // the system message); a required call is forced by the grammar.
  const bool use_tools =
      spec.chat && !req.tools.empty() && req.tool_choice.kind != ToolChoice::Kind::kNone;
  if (!req.tools.empty() && !spec.chat)
    throw HttpError(400, "tools need a chat request (messages), not a completion");
  if (req.tool_choice.kind == ToolChoice::Kind::kNamed &&
      std::none_of(req.tools.begin(), req.tools.end(),
                   [&](const chat::Tool& t) { return t.name == req.tool_choice.name; }))
    throw HttpError(400, fmt::format("tool_choice names \"{}\", which is not among the tools",
                                     req.tool_choice.name));
  if (req.tools.empty() && (req.tool_choice.kind == ToolChoice::Kind::kRequired ||
                            req.tool_choice.kind == ToolChoice::Kind::kNamed))
    throw HttpError(400, "tool_choice requires a tool call, but no tools were given");
  pr.tools_given = use_tools;
  // The reply parser must see the model's markup, which may be control tokens.
  st.gen.render_special = use_tools || thinking;
  // Tool results name their tool (templates such as Gemma's read it; OpenAI's
  // tool messages only carry the call's id).
  for (size_t i = 0; i < spec.messages.size(); ++i) {
    auto& m = spec.messages[i];
    if (m.role != "tool" || !m.name.empty() || m.tool_call_id.empty()) continue;
    for (size_t j = i; j-- > 0 && m.name.empty();)
      for (const auto& c : spec.messages[j].tool_calls)
        if (c.id == m.tool_call_id) m.name = c.name;
  }
  if (use_tools) {
    if (takes_tools)
      spec.template_vars["tools"] = chat::tools_json(req.tools);
    else
      add_to_system(spec, chat::tools_system_prompt(req.tools, pr.syntax));
    if (req.tool_choice.kind == ToolChoice::Kind::kRequired ||
        req.tool_choice.kind == ToolChoice::Kind::kNamed) {
      const auto fc = chat::forced_call(
          pr.syntax, req.tools,
          req.tool_choice.kind == ToolChoice::Kind::kNamed ? req.tool_choice.name : "",
          req.parallel_tool_calls);
      spec.reply_prefix = fc.prompt_suffix;
      pr.schema = fc.schema;
      pr.forced = true;
    }
  }
  if (!pr.forced && !req.format.is_null()) pr.schema = req.format;

  spec.markers = o.strict_input ? engine::MarkerPolicy::kRefuse : engine::MarkerPolicy::kNeutralise;
  try {
    // Counting (count_tokens) takes any length: a client asks to learn
    // whether its conversation still fits.
    pr.prompt = engine::build_prompt(
        rt, spec,
        counting ? engine::PromptLimits{engine::kMaxContext, 0, false}
                 : engine::PromptLimits{n_ctx, st.gen.max_tokens, req.truncate});
  } catch (const engine::ContextError& e) {
    throw HttpError(
        400,
        std::string(e.what()) +
            (req.truncate ? ""
                          : "; Ollama's API cuts it unless told not to (\"truncate\": false)"));
  } catch (const engine::InputError& e) {
    throw HttpError(400, e.what());
  } catch (const std::invalid_argument& e) {  // an empty prompt
    throw HttpError(400, e.what());
  } catch (const chat::TemplateError& e) {
    throw HttpError(400, std::string("template error: ") + e.what());
  }
  // Does the reply start inside <think> (templates that open it themselves)?
  if (thinking && !pr.forced) {
    const auto& toks = pr.prompt.tokens;
    const size_t n = std::min<size_t>(toks.size(), 6);
    pr.thinking_open = chat::prompt_opens_thinking(
        rt.tokenizer->decode(std::span<const int32_t>(toks).subspan(toks.size() - n), true));
  }
  return pr;
}

int64_t Server::Impl::count_tokens(InferenceRequest req) {
  return static_cast<int64_t>(prepare(req, /*counting=*/true).prompt.tokens.size());
}

void Server::Impl::infer(const std::shared_ptr<Exchange>& ex, InferenceRequest req,
                         std::shared_ptr<InferenceSink> sink) {
  const auto t0 = Steady::now();
  if (req.n < 1 || req.n > 8)
    throw sampling::ParamError("n", fmt::format("n must be in [1, 8], got {}", req.n));
  if (req.top_logprobs < 0 || req.top_logprobs > 20)
    throw sampling::ParamError(
        "top_logprobs", fmt::format("top_logprobs must be in [0, 20], got {}", req.top_logprobs));
  Prepared pr = prepare(req);
  if (const int slots = pr.lease->scheduler->options().n_slots; req.n > slots)
    throw sampling::ParamError(
        "n",
        fmt::format("n must be at most {} (the model's parallel sequences), got {}", slots, req.n));
  const auto& rm = pr.rm;
  auto& st = pr.st;
  auto& lease = pr.lease;
  const auto& rt = lease->rt;
  const int64_t n_ctx = pr.n_ctx;
  const auto& prompt = pr.prompt;
  const double load_s = pr.load_s;
  const Json& schema = pr.schema;
  std::string format_key;
  auto state = std::make_shared<RunState>();
  state->syntax = pr.syntax;
  state->tools_given = pr.tools_given;
  state->forced = pr.forced;
  state->thinking_open = pr.thinking_open;

  auto& gen = st.gen;
  gen.trim_leading_space = req.trim_leading_space && !state->forced && !prompt.prefill;
  gen.logprobs = req.logprobs;
  gen.n_probs = req.top_logprobs;
  for (const auto& [id, bias] : req.logit_bias)
    if (id >= rt.tokenizer->n_vocab())
      throw HttpError(400, fmt::format("logit_bias: token {} is outside the vocabulary of {}", id,
                                       rt.tokenizer->n_vocab()));
  gen.logit_bias = req.logit_bias;
  if (!schema.is_null()) {
    try {
      gen.constraint = engine::json_format(rt, schema);
    } catch (const grammar::SchemaError& e) {
      throw HttpError(400,
                      std::string(state->forced ? "tool parameters: " : "format: ") + e.what());
    }
    format_key = schema.dump();
  }

  // What gave way to fit the context (asked for with `truncate`).
  if (prompt.dropped_messages > 0)
    ex->request().response_headers.emplace_back(
        "X-Hearth-Truncated", fmt::format("{} messages", prompt.dropped_messages));
  else if (prompt.truncated)
    ex->request().response_headers.emplace_back("X-Hearth-Truncated", "prompt start");
  state->ex = ex;
  state->model = rm.name;
  // Content reaches the log only when the operator asked (--log-content).
  if (o.log_content) {
    static std::atomic<uint64_t> next_log_id{1};
    state->log_id = next_log_id++;
    spdlog::info("content #{} prompt to {} ({} tokens): {:?}", state->log_id, rm.name,
                 prompt.tokens.size(), rt.tokenizer->decode(prompt.tokens, true));
  }
  // For the audit log: which model, how many tokens (never what they said).
  ex->request().usage.model = rm.name;
  ex->request().usage.prompt_tokens = static_cast<int64_t>(prompt.tokens.size());
  meter_model(*ex, rm.name);  // metrics: the request's duration by model
  state->sink = std::move(sink);
  state->stream = req.stream;
  state->t0 = t0;
  state->outcome.load_s = load_s;
  state->outcome.prompt_tokens = static_cast<int64_t>(prompt.tokens.size());
  state->outcome.prompt_ids = prompt.tokens;
  state->outcome.choices.resize(static_cast<size_t>(req.n));
  state->pieces.resize(static_cast<size_t>(req.n));
  for (int i = 0; i < req.n; ++i) {
    state->streams.push_back(std::make_unique<chat::ReplyStream>(state->syntax, state->tools_given,
                                                                 state->thinking_open));
    state->outcome.choices[static_cast<size_t>(i)].index = i;
  }
  if (req.n == 1 && engine::ResponseCache::deterministic(gen.sampler) && o.response_cache_bytes > 0)
    state->cache_key = cache_key(rm, prompt.tokens, gen, format_key, n_ctx, state->forced);

  // A deterministic request answered before: replayed, and said so.
  if (!state->cache_key.empty()) {
    if (auto hit = cache.get(state->cache_key)) {
      metrics.count_cache_hit("response");
      const auto t_replay = Steady::now();
      auto& c = state->outcome.choices[0];
      c.result = hit->result;
      // The replay's own times (nothing evaluated), not the first run's: a
      // total shorter than its parts would read as nonsense.
      c.result.timings = {};
      finish_choice(*state, c, *rt.tokenizer);
      state->outcome.cache_hit = true;
      if (state->stream) {
        state->sink->begin(0, true, state->outcome.prompt_tokens);
        replay(*state, 0, hit->pieces);
        stream_end(*state, 0, c);
      }
      c.result.timings.gen_tokens = static_cast<int64_t>(c.result.tokens.size());
      c.result.timings.gen_s = seconds_since(t_replay);
      state->outcome.timings = c.result.timings;
      state->outcome.total_s = seconds_since(t0);
      lease.reset();
      state->sink->done(state->outcome);
      return;
    }
  }
  state->lease = std::move(lease);
  state->remaining = req.n;

  std::vector<std::shared_ptr<engine::Job>> jobs;
  std::lock_guard lk(state->mu);
  for (int i = 0; i < req.n; ++i) {
    engine::Request r;
    r.prompt = prompt.tokens;
    r.options = gen;
    if (i > 0 && gen.sampler.seed != sampling::SamplerParams::kRandomSeed)
      r.options.sampler.seed = gen.sampler.seed + static_cast<uint64_t>(i);
    r.n_ctx = n_ctx;
    r.on_text = [state, i, this](std::string_view piece) {
      std::lock_guard g(state->mu);
      if (state->ex->disconnected() || state->failed) return false;
      // Time to the first piece of text, then between pieces (of all choices).
      const auto now = Steady::now();
      const bool first = state->last_piece == Steady::time_point{};
      const double gap =
          std::chrono::duration<double>(now - (first ? state->t0 : state->last_piece)).count();
      if (first)
        metrics.on_first_token(state->model, gap);
      else
        metrics.on_token_gap(state->model, gap);
      state->last_piece = now;
      // --token-limit: the key's (or client's) budget of generated tokens.
      if (!guard.take_tokens(state->ex->request(), 1)) return false;
      state->pieces[static_cast<size_t>(i)].emplace_back(piece);
      if (state->stream && !state->forced)
        for (const auto& e : state->streams[static_cast<size_t>(i)]->feed(piece))
          state->sink->event(i, e);
      return true;
    };
    r.on_done = [state, i, this](engine::GenerateResult& res, std::exception_ptr err) {
      std::lock_guard g(state->mu);
      if (state->failed) return;
      if (err) {
        state->failed = true;
        std::string msg = "generation failed";
        try {
          std::rethrow_exception(err);
        } catch (const std::exception& e) {
          msg = e.what();
        }
        state->lease.reset();
        state->sink->failed(msg);
        return;
      }
      auto& c = state->outcome.choices[static_cast<size_t>(i)];
      c.result = std::move(res);
      // Tokens, and whether a slot's cached prefix spared part of the prompt.
      const int64_t n_prompt = state->outcome.prompt_tokens;
      state->ex->request().usage.generated_tokens += static_cast<int64_t>(c.result.tokens.size());
      metrics.add_tokens(state->model, n_prompt, static_cast<int64_t>(c.result.tokens.size()));
      if (c.result.timings.prompt_tokens < n_prompt) metrics.count_cache_hit("prefix");
      finish_choice(*state, c, *state->lease->rt.tokenizer);
      if (state->stream) stream_end(*state, i, c);
      if (i == 0) state->outcome.timings = c.result.timings;
      if (--state->remaining > 0) return;
      // Only whole answers are kept (a cancelled one would replay cut short),
      // and before the answer ends: a client's next request may come at once.
      if (!state->cache_key.empty() && !state->ex->disconnected())
        cache.put(state->cache_key, {state->pieces[0], state->outcome.choices[0].result});
      // The model is done with: its keep_alive starts now, before the client
      // can ask /api/ps.
      state->lease.reset();
      state->outcome.total_s = seconds_since(state->t0);
      state->sink->done(state->outcome);
    };
    try {
      jobs.push_back(state->lease->scheduler->submit(std::move(r)));
    } catch (const engine::QueueFull& e) {
      for (auto& j : jobs) j->cancel();
      state->failed = true;
      throw HttpError(503, e.what(), {{"Retry-After", "1"}});
    } catch (const engine::ContextError& e) {
      for (auto& j : jobs) j->cancel();
      state->failed = true;
      throw HttpError(400, e.what());
    }
  }
  if (state->stream)
    state->sink->begin(jobs.front()->queue_position(), false, state->outcome.prompt_tokens);
  ex->on_disconnect([jobs] {
    for (const auto& j : jobs) j->cancel();
  });
}

}  // namespace hearth::server
