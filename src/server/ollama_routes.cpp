// Ollama's API over the engine: /api/generate, /api/chat, /api/ps, /api/tags,
// /api/show, /api/version and the model-management routes. Wire shapes come
// from ollama_types.h; the work from the engine's ModelManager and Scheduler.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <mutex>

#include "engine/format.h"
#include "engine/prompt.h"
#include "sampling/param_error.h"
#include "server/inference.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using ollama::Json;
using Clock = std::chrono::system_clock;
using Nanos = std::chrono::nanoseconds;

Nanos secs(double s) { return Nanos(static_cast<int64_t>(s * 1e9)); }

std::vector<chat::Message> to_chat(const std::vector<ollama::Message>& ms) {
  std::vector<chat::Message> out;
  for (const auto& m : ms) {
    chat::Message c{m.role, m.content};
    c.thinking = m.thinking;
    c.tool_call_id = m.tool_call_id;
    c.name = m.tool_name;
    for (const auto& t : m.tool_calls) c.tool_calls.push_back({t.id, t.name, t.arguments});
    out.push_back(std::move(c));
  }
  return out;
}

// Ollama's `tools`: [{type: "function", function: {name, description, parameters}}].
std::vector<chat::Tool> to_tools(const Json& tools) {
  std::vector<chat::Tool> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    const auto it = t.find("function");
    if (it == t.end() || !it->is_object() || !it->contains("name") || !(*it)["name"].is_string())
      throw HttpError(400, fmt::format("tools[{}]: a function with a name is required", i));
    chat::Tool tool;
    tool.name = (*it)["name"].get<std::string>();
    if (it->contains("description") && (*it)["description"].is_string())
      tool.description = (*it)["description"].get<std::string>();
    if (it->contains("parameters")) tool.parameters = (*it)["parameters"];
    out.push_back(std::move(tool));
  }
  return out;
}

ollama::GenerateStats stats_of(const Outcome& o) {
  ollama::GenerateStats st;
  st.total = secs(o.total_s);
  st.load = secs(o.load_s);
  st.prompt_eval_count = o.prompt_tokens;  // the whole prompt, cached or not, as Ollama counts
  st.prompt_eval = secs(o.timings.prompt_s);
  st.eval_count = static_cast<int64_t>(o.choices[0].result.tokens.size());
  st.eval = secs(o.timings.gen_s);
  return st;
}

// /api/generate and /api/chat as NDJSON (or one object).
class OllamaSink : public InferenceSink {
 public:
  OllamaSink(std::shared_ptr<Exchange> ex, std::string model, bool chat, bool stream, bool raw)
      : ex_(std::move(ex)), model_(std::move(model)), chat_(chat), stream_(stream), raw_(raw) {}

  void begin(int64_t queue, bool cache_hit, int64_t) override {
    Headers h = {{"X-Hearth-Queue-Position", std::to_string(queue)}};
    if (cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
    ex_->begin_stream(200, kNdjson, std::move(h));
  }
  void event(int, const chat::ReplyStream::Event& e, const Json& logprobs) override {
    using K = chat::ReplyStream::Event::Kind;
    Json j;
    if (chat_) {
      ollama::Message m;
      m.role = "assistant";
      if (e.kind == K::kContent) m.content = e.text;
      if (e.kind == K::kThinking) m.thinking = e.text;
      if (e.kind == K::kToolCall) m.tool_calls.push_back(call(e.call));
      j = ollama::chat_chunk(model_, Clock::now(), m);
    } else {
      j = ollama::generate_chunk(model_, Clock::now(), e.kind == K::kContent ? e.text : "");
      if (e.kind == K::kThinking) j["thinking"] = e.text;
    }
    if (!logprobs.is_null()) j["logprobs"] = logprobs;
    ex_->write(j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
  }
  void done(Outcome& o) override {
    const auto& c = o.choices[0];
    const auto st = stats_of(o);
    Json last;
    if (chat_) {
      ollama::Message msg;
      msg.role = "assistant";
      if (!stream_) {
        msg.content = c.reply.content;
        msg.thinking = c.reply.thinking;
        for (const auto& t : c.reply.calls) msg.tool_calls.push_back(call(t));
      }
      last = ollama::chat_final(model_, Clock::now(), msg, c.result.done_reason, st);
    } else {
      std::vector<int32_t> context;
      if (!raw_) {
        context = o.prompt_ids;
        context.insert(context.end(), c.result.tokens.begin(), c.result.tokens.end());
      }
      last = ollama::generate_final(model_, Clock::now(), stream_ ? "" : c.reply.content,
                                    c.result.done_reason, context, st);
      if (!stream_ && !c.reply.thinking.empty()) last["thinking"] = c.reply.thinking;
    }
    if (Json rest = unsent_logprobs(c); !rest.is_null() && (!stream_ || !rest.empty()))
      last["logprobs"] = std::move(rest);
    const auto body = last.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (stream_) {
      ex_->write(body + "\n");
      ex_->end_stream();
    } else {
      Headers h;
      if (o.cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
      ex_->respond(200, kJson, body, std::move(h));
    }
  }
  void failed(const std::string& message) override {
    if (stream_) {
      ex_->write(ollama::error_response(message).dump() + "\n");
      ex_->end_stream();
    } else {
      send_error(*ex_, 500, message);
    }
  }

 private:
  ollama::ToolCall call(const chat::ToolCall& c) {
    ollama::ToolCall t;
    t.id = c.id;
    t.index = index_++;
    t.name = c.name;
    t.arguments = c.arguments;
    return t;
  }
  std::shared_ptr<Exchange> ex_;
  std::string model_;
  bool chat_, stream_, raw_;
  int64_t index_ = 0;
};

}  // namespace

bool Server::Impl::ollama(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  const auto& m = req.method;

  if (p == "/") {
    if (m != "GET" && m != "HEAD") throw method_not_allowed("GET, HEAD");
    ex.respond(200, "text/plain; charset=utf-8", "Ollama is running", {});
    return true;
  }
  if (p == "/api/version") {
    if (m != "GET" && m != "HEAD") throw method_not_allowed("GET, HEAD");
    send_json(ex, 200, ollama::version_response(HEARTH_VERSION));
    return true;
  }
  if (p == "/api/pull" || p == "/api/push") {
    if (m != "POST") throw method_not_allowed("POST");
    const auto body = ollama::parse_body(req.body);
    const auto r =
        p == "/api/pull" ? ollama::parse_pull_request(body) : ollama::parse_push_request(body);
    // A model already here needs nothing fetched: clients that make sure of a
    // model by pulling it before use (scripts with the ollama libraries) go on.
    if (p == "/api/pull" && store.exists(r.model)) {
      const nlohmann::ordered_json done = {{"status", "success"}};
      if (!r.stream) {
        send_json(ex, 200, done);
      } else {
        ex.begin_stream(200, kNdjson);
        ex.write(dump_json(done) + "\n");
        ex.end_stream();
      }
      return true;
    }
    throw ollama::registry_refusal(p == "/api/pull" ? "pull" : "push", r.model);
  }

  if (p == "/api/generate" || p == "/api/chat") {
    if (m != "POST") throw method_not_allowed("POST");
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
    if (!is_chat && g.raw && (!g.template_.empty() || !g.system.empty() || !g.context.empty()))
      throw HttpError(400, "raw mode does not support template, system, or context");

    const bool load_only = is_chat ? c.messages.empty() : g.prompt.empty();
    if (load_only) {
      ResolvedModel rm = resolve(name);
      const auto kal = keep_alive_of(ka);
      const Settings st = settings(rm, *opts);
      const auto created = Clock::now();
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

    InferenceRequest ir;
    ir.model = name;
    ir.options = *opts;
    ir.keep_alive = ka;
    if (*think) ir.think = (*think)->enabled;
    auto& spec = ir.prompt;
    if (is_chat) {
      spec.chat = true;
      spec.messages = to_chat(c.messages);
      ir.tools = to_tools(c.tools);
      ir.tool_choice = parse_tool_choice(&c.tool_choice);
    } else {
      spec.prompt = g.prompt;
      spec.raw = g.raw;
      spec.suffix = g.suffix;  // fill in the middle (code completion)
      spec.system = g.system;
      spec.template_text = g.template_;
      spec.context = g.context;
      for (int32_t t : g.context)
        if (t < 0) throw HttpError(400, fmt::format("context holds token {}, not a token id", t));
    }
    if (format->kind == ollama::Format::Kind::kJson) ir.format = "json";
    if (format->kind == ollama::Format::Kind::kSchema) ir.format = format->schema;
    ir.stream = is_chat ? c.stream : g.stream;
    ir.logprobs = is_chat ? c.logprobs : g.logprobs;
    ir.top_logprobs = static_cast<int>(is_chat ? c.top_logprobs : g.top_logprobs);
    ir.trim_leading_space = is_chat || (!g.raw && g.suffix.empty());
    ir.truncate = (is_chat ? c.truncate : g.truncate).value_or(true);  // Ollama's default
    const bool raw = !is_chat && g.raw;
    infer(exp, std::move(ir),
          std::make_shared<OllamaSink>(exp, name, is_chat, is_chat ? c.stream : g.stream, raw));
    return true;
  }
  return false;
}

}  // namespace hearth::server
