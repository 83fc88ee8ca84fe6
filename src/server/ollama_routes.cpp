// Ollama's API over the engine: /api/generate, /api/chat, /api/ps, /api/tags,
// /api/show, /api/version and the model-management routes. Wire shapes come
// from ollama_types.h; the work from the engine's ModelManager and Scheduler.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

#include "engine/format.h"
#include "engine/prompt.h"
#include "grammar/json_constraint.h"
#include "sampling/param_error.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using ollama::Json;
using Clock = std::chrono::system_clock;
using Nanos = std::chrono::nanoseconds;

constexpr const char* kNdjson = "application/x-ndjson";
constexpr const char* kJson = "application/json; charset=utf-8";

Nanos since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - t0);
}
Nanos secs(double s) { return Nanos(static_cast<int64_t>(s * 1e9)); }

engine::KeepAlive keep_alive(const std::optional<ollama::KeepAlive>& k,
                             const engine::KeepAlive& fallback) {
  if (!k) return fallback;
  if (k->is_forever()) return engine::KeepAlive::never_expire();
  return {k->duration(), false};
}

// What a request's options (over the model's stored parameters) ask of the engine.
struct Settings {
  engine::GenerateOptions gen;
  int64_t num_ctx = 0;
};

Settings settings(const ResolvedModel& m, const ollama::Options& request, int64_t default_ctx) {
  const auto stored = ollama::parse_options(m.parameters, "parameter").options;
  const auto o = ollama::merge_options(stored, request);
  Settings s;
  auto& sp = s.gen.sampler;
  if (o.temperature) sp.temperature = *o.temperature;
  if (o.top_k) sp.top_k = static_cast<int>(std::clamp<int64_t>(*o.top_k, -1, 1 << 30));
  if (o.top_p) sp.top_p = *o.top_p;
  if (o.min_p) sp.min_p = *o.min_p;
  if (o.typical_p) sp.typical_p = *o.typical_p;
  if (o.repeat_last_n)
    sp.repeat_last_n = static_cast<int>(std::clamp<int64_t>(*o.repeat_last_n, -2, 1 << 30));
  if (o.repeat_penalty) sp.repeat_penalty = *o.repeat_penalty;
  if (o.presence_penalty) sp.presence_penalty = *o.presence_penalty;
  if (o.frequency_penalty) sp.frequency_penalty = *o.frequency_penalty;
  // Ollama: a negative seed draws a random one.
  if (o.seed && *o.seed >= 0) sp.seed = static_cast<uint64_t>(*o.seed);
  sampling::validate(sp);
  if (o.num_predict) {
    if (*o.num_predict < -2)
      throw sampling::ParamError("num_predict", fmt::format("num_predict must be >= -2 (-1: until "
                                                            "the context is full), got {}",
                                                            *o.num_predict));
    s.gen.max_tokens = *o.num_predict < 0 ? -1 : *o.num_predict;
  }
  if (o.stop) s.gen.stop = *o.stop;
  s.num_ctx = o.num_ctx ? *o.num_ctx : default_ctx;
  if (o.num_ctx && (*o.num_ctx < 16 || *o.num_ctx > (1 << 20)))
    throw sampling::ParamError("num_ctx",
                               fmt::format("num_ctx must be in [16, 1048576], got {}", *o.num_ctx));
  return s;
}

// The key of a deterministic request in the response cache.
std::string cache_key(const ResolvedModel& m, const std::vector<int32_t>& prompt,
                      const engine::GenerateOptions& g, const std::string& format, int64_t n_ctx) {
  const auto& s = g.sampler;
  nlohmann::json k = {
      {"m", m.key},
      {"p", prompt},
      {"ctx", n_ctx},
      {"n", g.max_tokens},
      {"stop", g.stop},
      {"trim", g.trim_leading_space},
      {"fmt", format},
      {"s",
       {s.temperature, s.top_k, s.top_p, s.min_p, s.typical_p, s.repeat_penalty, s.repeat_last_n,
        s.presence_penalty, s.frequency_penalty, s.temperature <= 0 ? 0 : s.seed}}};
  return k.dump();
}

std::vector<chat::Message> to_chat(const std::vector<ollama::Message>& ms) {
  std::vector<chat::Message> out;
  for (const auto& m : ms) out.push_back({m.role, m.content});
  return out;
}

// One generation, streamed as NDJSON or answered whole. `chunk` and `final`
// shape the route's objects.
struct Run {
  std::shared_ptr<Exchange> ex;
  engine::ModelManager::Lease lease;
  std::string model_name;
  std::vector<int32_t> prompt;
  engine::GenerateOptions gen;
  int64_t n_ctx = 0;
  bool stream = true;
  std::string cache_key;  // "" when not cacheable
  std::chrono::steady_clock::time_point t0;
  std::chrono::steady_clock::time_point last_piece;  // metrics: none yet while == {}
  Nanos load{0};
  std::function<Json(std::string_view)> chunk;
  std::function<Json(const engine::GenerateResult&, const ollama::GenerateStats&)> final;
};

void run_generation(Server::Impl& srv, std::shared_ptr<Run> r) {
  auto& ex = *r->ex;
  // A deterministic request answered before: replayed, and said so.
  if (!r->cache_key.empty()) {
    if (auto hit = srv.cache.get(r->cache_key)) {
      srv.metrics.count_cache_hit("response");  // metrics
      ollama::GenerateStats st;
      st.total = since(r->t0);
      st.load = r->load;
      st.prompt_eval_count = hit->result.timings.prompt_tokens;
      st.prompt_eval = secs(hit->result.timings.prompt_s);
      st.eval_count = static_cast<int64_t>(hit->result.tokens.size());
      st.eval = secs(hit->result.timings.gen_s);
      const Headers h = {{"X-Hearth-Cache", "hit"}};
      if (r->stream) {
        ex.begin_stream(200, kNdjson, h);
        for (const auto& p : hit->pieces) ex.write(r->chunk(p).dump() + "\n");
        ex.write(r->final(hit->result, st).dump() + "\n");
        ex.end_stream();
      } else {
        send_json(ex, 200, r->final(hit->result, st), h);
      }
      return;
    }
  }

  auto pieces = std::make_shared<std::vector<std::string>>();
  engine::Request req;
  req.prompt = r->prompt;
  req.options = r->gen;
  req.n_ctx = r->n_ctx;
  req.on_text = [r, pieces, &srv](std::string_view piece) {
    if (r->ex->disconnected()) return false;
    // metrics: time to the first piece of text, then between pieces.
    const auto now = std::chrono::steady_clock::now();
    const bool first = r->last_piece == std::chrono::steady_clock::time_point{};
    const auto since_last = std::chrono::duration<double>(now - (first ? r->t0 : r->last_piece));
    if (first)
      srv.metrics.on_first_token(r->model_name, since_last.count());
    else
      srv.metrics.on_token_gap(r->model_name, since_last.count());
    r->last_piece = now;
    if (!r->cache_key.empty() || !r->stream) pieces->emplace_back(piece);
    if (r->stream)
      r->ex->write(r->chunk(piece).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
    return true;
  };
  req.on_done = [r, pieces, &srv](engine::GenerateResult& res, std::exception_ptr err) {
    auto& ex = *r->ex;
    if (err) {
      std::string msg = "generation failed";
      try {
        std::rethrow_exception(err);
      } catch (const std::exception& e) {
        msg = e.what();
      }
      if (r->stream) {
        ex.write(ollama::error_response(msg).dump() + "\n");
        ex.end_stream();
      } else {
        send_error(ex, 500, msg);
      }
      r->lease.reset();
      return;
    }
    // metrics: tokens, and whether a slot's cached prefix spared part of the prompt.
    const auto n_prompt = static_cast<int64_t>(r->prompt.size());
    srv.metrics.add_tokens(r->model_name, n_prompt, static_cast<int64_t>(res.tokens.size()));
    if (res.timings.prompt_tokens < n_prompt) srv.metrics.count_cache_hit("prefix");
    ollama::GenerateStats st;
    st.total = since(r->t0);
    st.load = r->load;
    st.prompt_eval_count = res.timings.prompt_tokens;
    st.prompt_eval = secs(res.timings.prompt_s);
    st.eval_count = static_cast<int64_t>(res.tokens.size());
    st.eval = secs(res.timings.gen_s);
    const Json last = r->final(res, st);
    // Only whole answers are kept (a cancelled one would replay cut short), and
    // before the answer ends: a client's next request may come at once.
    if (!r->cache_key.empty() && !ex.disconnected()) srv.cache.put(r->cache_key, {*pieces, res});
    // The model is done with: its keep_alive starts now, before the client
    // can ask /api/ps.
    r->lease.reset();
    if (r->stream) {
      ex.write(last.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
      ex.end_stream();
    } else {
      ex.respond(200, kJson, last.dump(-1, ' ', false, Json::error_handler_t::replace), {});
    }
  };
  std::shared_ptr<engine::Job> job;
  try {
    job = r->lease->scheduler->submit(std::move(req));
  } catch (const engine::QueueFull& e) {
    throw HttpError(503, e.what(), {{"Retry-After", "1"}});
  } catch (const engine::ContextError& e) {
    throw HttpError(400, e.what());
  }
  // Where the request stands: 0 when it went straight into a slot, n when n-1
  // requests wait before it (GET /api/ps shows each model's queue).
  if (r->stream)
    ex.begin_stream(200, kNdjson,
                    {{"X-Hearth-Queue-Position", std::to_string(job->queue_position())}});
  ex.on_disconnect([job] { job->cancel(); });
}

// Resolves, validates and leases the model for a generation route.
struct Prepared {
  ResolvedModel model;
  Settings settings;
  engine::KeepAlive keep_alive;
};

}  // namespace

bool Server::Impl::ollama(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  const auto& m = req.method;
  const auto t0 = std::chrono::steady_clock::now();

  if (p == "/") {
    if (m != "GET" && m != "HEAD") throw HttpError(405, "method not allowed");
    ex.respond(200, "text/plain; charset=utf-8", "Ollama is running", {});
    return true;
  }
  if (p == "/api/version") {
    if (m != "GET" && m != "HEAD") throw HttpError(405, "method not allowed");
    send_json(ex, 200, ollama::version_response(HEARTH_VERSION));
    return true;
  }
  if (p == "/api/ps") {
    if (m != "GET") throw HttpError(405, "method not allowed");
    std::vector<ollama::RunningModel> out;
    for (const auto& s : models.status()) {
      ollama::RunningModel r;
      r.name = s.name;
      r.size = static_cast<int64_t>(s.bytes);
      r.digest = s.key.rfind("sha256:", 0) == 0 ? s.key.substr(7) : "";
      if (!s.forever) r.expires_at = s.expires_at;
      r.context_length = s.n_ctx;
      r.queue.active = s.scheduler.active;
      r.queue.waiting = s.scheduler.queued;
      out.push_back(r);
    }
    send_json(ex, 200, ollama::ps_response(out));
    return true;
  }
  if (p == "/api/pull" || p == "/api/push") {
    if (m != "POST") throw HttpError(405, "method not allowed");
    const auto body = ollama::parse_body(req.body);
    const auto r =
        p == "/api/pull" ? ollama::parse_pull_request(body) : ollama::parse_push_request(body);
    throw ollama::registry_refusal(p == "/api/pull" ? "pull" : "push", r.model);
  }

  if (p == "/api/generate" || p == "/api/chat") {
    if (m != "POST") throw HttpError(405, "method not allowed");
    const auto body = ollama::parse_body(req.body);
    const bool is_chat = p == "/api/chat";
    ollama::GenerateRequest g;
    ollama::ChatRequest c;
    std::string name;
    std::optional<ollama::KeepAlive> ka;
    const ollama::Options* opts;
    const ollama::Format* format;
    std::vector<std::string> unknown;
    const std::optional<ollama::Think>* think;
    if (is_chat) {
      c = ollama::parse_chat_request(body);
      name = c.model, ka = c.keep_alive, opts = &c.options, format = &c.format;
      unknown = c.unknown_options, think = &c.think;
    } else {
      g = ollama::parse_generate_request(body);
      name = g.model, ka = g.keep_alive, opts = &g.options, format = &g.format;
      unknown = g.unknown_options, think = &g.think;
    }
    for (const auto& u : unknown) spdlog::warn("ignoring unknown option \"{}\"", u);
    ResolvedModel rm = resolve(name);
    meter_model(ex, rm.name);  // metrics: the request's duration by model
    const auto kal = keep_alive(ka, o.default_keep_alive);
    Settings st = settings(rm, *opts, o.default_num_ctx);
    if (*think && (*think)->enabled)
      throw HttpError(400, fmt::format("\"{}\" does not support thinking", name));
    if (is_chat && !c.tools.empty())
      throw HttpError(400, fmt::format("{} does not support tools", rm.name));
    if (!is_chat && g.raw && (!g.template_.empty() || !g.system.empty() || !g.context.empty()))
      throw HttpError(400, "raw mode does not support template, system, or context");
    if (!is_chat && !g.suffix.empty())
      throw HttpError(400, fmt::format("{} does not support insert", rm.name));

    const bool load_only = is_chat ? c.messages.empty() : g.prompt.empty();
    const auto created = Clock::now();
    if (load_only) {
      // Ollama: an empty request loads the model, or with keep_alive 0 unloads it.
      if (!kal.forever && kal.duration.count() == 0) {
        models.unload(rm.key);
        send_json(ex, 200,
                  is_chat ? ollama::chat_load(name, created, "unload")
                          : ollama::generate_load(name, created, "unload"));
        return true;
      }
      { auto lease = models.acquire({rm.key, rm.name, rm.path, st.num_ctx}, kal); }
      send_json(ex, 200,
                is_chat ? ollama::chat_load(name, created, "load")
                        : ollama::generate_load(name, created, "load"));
      return true;
    }

    double load_s = 0;
    auto lease = models.acquire({rm.key, rm.name, rm.path, st.num_ctx}, kal, &load_s);
    const auto& rt = lease->rt;
    engine::PromptSpec spec;
    spec.template_text = rm.template_text;
    spec.system = rm.system;
    if (is_chat) {
      spec.chat = true;
      for (const auto& [role, content] : rm.messages) spec.messages.push_back({role, content});
      const auto msgs = to_chat(c.messages);
      spec.messages.insert(spec.messages.end(), msgs.begin(), msgs.end());
    } else {
      spec.prompt = g.prompt;
      spec.raw = g.raw;
      if (!g.system.empty()) spec.system = g.system;
      if (!g.template_.empty()) spec.template_text = g.template_;
      spec.context = g.context;
      for (int32_t t : g.context)
        if (t < 0 || t >= rt.tokenizer->n_vocab())
          throw HttpError(400, fmt::format("context holds token {} outside the vocabulary of {}", t,
                                           rt.tokenizer->n_vocab()));
    }
    const int64_t n_ctx = lease->scheduler->options().n_ctx;
    engine::Prompt prompt;
    try {
      prompt = engine::build_prompt(rt, spec, {n_ctx, st.gen.max_tokens, true});
    } catch (const engine::ContextError& e) {
      throw HttpError(400, e.what());
    } catch (const chat::TemplateError& e) {
      throw HttpError(400, std::string("template error: ") + e.what());
    }
    st.gen.trim_leading_space = is_chat || !g.raw;
    // A format is enforced while sampling: the output always parses and matches.
    std::string format_key;
    if (format->kind != ollama::Format::Kind::kNone) {
      const Json schema =
          format->kind == ollama::Format::Kind::kJson ? Json("json") : format->schema;
      try {
        st.gen.constraint = engine::json_format(rt, schema);
      } catch (const grammar::SchemaError& e) {
        throw HttpError(400, std::string("format: ") + e.what());
      }
      format_key = schema.dump();
    }

    auto r = std::make_shared<Run>();
    r->ex = exp;
    r->model_name = rm.name;
    r->prompt = prompt.tokens;
    r->gen = st.gen;
    r->n_ctx = n_ctx;
    r->stream = is_chat ? c.stream : g.stream;
    r->t0 = t0;
    r->load = secs(load_s);
    if (engine::ResponseCache::deterministic(st.gen.sampler) && o.response_cache_bytes > 0)
      r->cache_key = cache_key(rm, prompt.tokens, st.gen, format_key, n_ctx);
    // Responses name the model as the request did (Ollama echoes it).
    const std::string model_name = name;
    if (is_chat) {
      r->chunk = [model_name](std::string_view piece) {
        return ollama::chat_chunk(model_name, Clock::now(), piece);
      };
      const bool stream = r->stream;
      r->final = [model_name, stream](const engine::GenerateResult& res,
                                      const ollama::GenerateStats& s) {
        ollama::Message msg;
        msg.role = "assistant";
        if (!stream) msg.content = res.text;
        return ollama::chat_final(model_name, Clock::now(), msg, res.done_reason, s);
      };
    } else {
      r->chunk = [model_name](std::string_view piece) {
        return ollama::generate_chunk(model_name, Clock::now(), piece);
      };
      const bool stream = r->stream, raw = g.raw;
      const auto ptoks = prompt.tokens;
      r->final = [model_name, stream, raw, ptoks](const engine::GenerateResult& res,
                                                  const ollama::GenerateStats& s) {
        std::vector<int32_t> context;
        if (!raw) {
          context = ptoks;
          context.insert(context.end(), res.tokens.begin(), res.tokens.end());
        }
        return ollama::generate_final(model_name, Clock::now(), stream ? "" : res.text,
                                      res.done_reason, context, s);
      };
    }
    r->lease = std::move(lease);
    run_generation(*this, r);
    return true;
  }
  return false;
}

}  // namespace hearth::server
