// `hearth run MODEL [PROMPT]`: one-shot completion of PROMPT (raw text unless
// --chat), or an interactive chat over stdin when no prompt is given.
//
// stdout carries only generated text (or, with --json, one JSON object);
// statistics and the chat's own messages go to stderr.
#include <editline/readline.h>
#include <fmt/format.h>
#include <langinfo.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <clocale>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "engine/format.h"
#include "engine/generate.h"
#include "engine/limits.h"
#include "engine/prompt.h"
#include "engine/runtime.h"
#include "fs/read_file.h"
#include "sampling/param_error.h"
#include "server/inference.h"
#include "server/ollama_types.h"
#include "store/resolve.h"
#include "store/store.h"

namespace hearth::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::vector<std::string> prompt_words;  // as typed: unquoted words are one prompt
  bool chat = false;
  bool json = false;
  bool verbose = false;
  bool truncate = false;
  bool local = false;
  int64_t num_predict = -1;  // Ollama's num_predict: -1 until the context is full
  int64_t n_ctx = 0;
  // Sampling settings the chat changed (/set NAME, Ollama's names): sent to a
  // server as the flags are, over the model's stored parameters.
  std::set<std::string> set_in_chat;
  std::optional<int> threads;  // nullopt: one per physical core
  int n_probs = 0;
  std::string kv_type = "f16";
  std::string template_name;
  std::string system;
  std::vector<std::string> stop;
  // --format: "json", a JSON schema inline, or a file holding one; `format`
  // is what it says (null: free text), as the API's `format`.
  std::string format_arg;
  nlohmann::ordered_json format;
  int64_t seed = -1;  // < 0: a random seed
  sampling::SamplerParams sampler;
  // From the store (`hearth create`): the model's template ("" = the GGUF's)
  // and the messages its chats start with.
  std::string stored_template;
  std::vector<chat::Message> stored_messages;
  store::ModelRecord record;  // the model's store record (a file's: only its path)
};

// Set by Ctrl-C while a reply is being generated: the reply stops, the chat goes on.
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_generating{false};

void on_sigint(int) {
  if (!g_generating.load()) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
  g_interrupted = true;
}

// --verbose's lines: prompt and generation speed. `generated` counts every
// token of the reply, as eval_count does (the rate's timing leaves out the
// first, which the prompt's pass yields).
std::string stats_text(int64_t prompt_tokens, double prompt_rate, int64_t generated,
                       double gen_rate) {
  return fmt::format("prompt: {} tokens, {:.2f} tokens/s\ngeneration: {} tokens, {:.2f} tokens/s\n",
                     prompt_tokens, prompt_rate, generated, gen_rate);
}
std::string stats_text(const engine::GenerateResult& r) {
  return stats_text(r.timings.prompt_tokens, r.timings.prompt_tokens_per_s(),
                    static_cast<int64_t>(r.tokens.size()), r.timings.gen_tokens_per_s());
}

// Ends the reply's line on a terminal (the shell's prompt, or the stats, start
// on a line of their own); piped output stays the model's bytes exactly.
void end_line(const std::string& text) {
  if (isatty(STDOUT_FILENO) && (text.empty() || text.back() != '\n')) std::printf("\n");
  std::fflush(stdout);
}

// Writes text as it comes, unbuffered enough to read along.
bool stream_out(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
  return !g_interrupted.load();
}

engine::GenerateOptions generate_options(const RunOptions& o, const engine::Runtime& rt,
                                         bool chat) {
  engine::GenerateOptions g;
  if (!o.format.is_null()) g.constraint = engine::json_format(rt, o.format);
  g.max_tokens = o.num_predict;
  g.sampler = o.sampler;
  g.stop = o.stop;
  g.n_probs = o.n_probs;
  g.trim_leading_space = chat;
  return g;
}

// Generates, streaming to stdout when `stream`; Ctrl-C stops the reply.
engine::GenerateResult generate_reply(engine::Session& session, const engine::Runtime& rt,
                                      const std::vector<int32_t>& prompt,
                                      const engine::GenerateOptions& opts, bool stream) {
  auto out = [&](std::string_view piece, const engine::GenerateResult&) {
    return stream ? stream_out(piece) : !g_interrupted.load();
  };
  g_generating = true;
  auto r = engine::generate(session, *rt.tokenizer, prompt, opts, out);
  g_generating = false;
  return r;
}

// The template text --template names (empty: the GGUF's own).
std::string template_text(const RunOptions& o, const engine::Runtime& rt) {
  if (o.template_name.empty()) return o.stored_template;
  return chat::resolve_template(o.template_name,
                                rt.model->file().get_string("tokenizer.chat_template"));
}

int run_once(const RunOptions& o, engine::Runtime& rt, engine::Session& session) {
  engine::PromptSpec spec;
  spec.chat = o.chat;
  spec.raw = !o.chat;
  spec.system = o.system;
  spec.template_text = template_text(o, rt);
  if (o.chat) {
    spec.messages = o.stored_messages;
    spec.messages.push_back({"user", o.prompt});
  } else
    spec.prompt = o.prompt;
  const auto prompt =
      engine::build_prompt(rt, spec, {session.n_ctx(), o.num_predict, o.truncate}).tokens;
  const auto opts = generate_options(o, rt, o.chat);
  engine::GenerateResult r;
  std::signal(SIGINT, on_sigint);  // Ctrl-C stops the reply: exit 130, as a killed run would
  if (o.json) {
    r = generate_reply(session, rt, prompt, opts, /*stream=*/false);
    nlohmann::json j = {{"text", r.text},
                        {"tokens", r.tokens},
                        {"prompt_tokens", prompt},
                        {"prompt_eval_count", r.timings.prompt_tokens},
                        {"eval_count", r.tokens.size()},
                        {"done_reason", r.done_reason},
                        {"prompt_tokens_per_s", r.timings.prompt_tokens_per_s()},
                        {"gen_tokens_per_s", r.timings.gen_tokens_per_s()}};
    if (o.n_probs > 0) {
      auto top = nlohmann::json::array();
      for (const auto& step : r.top) {
        auto s = nlohmann::json::array();
        for (const auto& tp : step) s.push_back({tp.id, tp.prob});
        top.push_back(s);
      }
      j["top"] = top;
    }
    // Generated bytes that are not UTF-8 become U+FFFD in the string; `tokens` keeps the ids.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    r = generate_reply(session, rt, prompt, opts, /*stream=*/true);
    end_line(r.text);
  }
  std::fflush(stdout);
  if (o.verbose) std::fprintf(stderr, "%s", stats_text(r).c_str());
  return g_interrupted.load() ? 130 : 0;
}

const char* kChatHelp =
    "commands:\n"
    "  /bye                  leave\n"
    "  /clear                forget the conversation\n"
    "  /set PARAM VALUE      temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,\n"
    "                        seed, num_predict (or, as in Ollama, /set parameter PARAM VALUE)\n"
    "  /set system TEXT      the system message\n"
    "  /set format json      answer in JSON (or a JSON schema); /set noformat: free text\n"
    "  /set verbose|quiet    show or hide speed after each reply\n"
    "  /show                 the current parameters\n"
    "  /show PART            the model's modelfile, parameters, system, template or license\n"
    "  /?, /help             this help\n"
    "  \"\"\"                   begin a message of several lines; end it with \"\"\"\n";

// --format's value: "json" (any JSON object), a JSON schema written inline,
// or the path of a file holding one; "" for none.
nlohmann::ordered_json parse_format(const std::string& arg) {
  if (arg.empty()) return nullptr;
  if (arg == "json") return "json";
  nlohmann::ordered_json schema;
  try {
    schema =
        nlohmann::ordered_json::parse(arg.front() == '{' ? arg : fs::read_file(arg, kMaxDocument));
  } catch (const fs::FileError& e) {
    throw std::runtime_error("--format: " + std::string(e.what()));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("--format: not \"json\", a JSON schema or a file holding one: " +
                             std::string(e.what()));
  }
  if (!schema.is_object()) throw std::runtime_error("--format: a JSON schema is an object");
  return schema;
}

// Applies "/set NAME VALUE"; returns a message for the user. A value the
// API would refuse (top_k -3, temperature nan) leaves the setting as it was.
std::string set_param(RunOptions& o, const std::string& name, const std::string& value) {
  RunOptions next = o;
  auto& s = next.sampler;
  // The whole value must be the number: "0.2x" is refused, not read as 0.2.
  const auto whole = [&](auto parse) {
    size_t used = 0;
    const auto v = parse(value, &used);
    if (used != value.size()) throw std::invalid_argument(value);
    return v;
  };
  const auto to_float = [](const std::string& v, size_t* n) { return std::stof(v, n); };
  const auto to_int = [](const std::string& v, size_t* n) { return std::stoi(v, n); };
  const auto to_int64 = [](const std::string& v, size_t* n) { return std::stoll(v, n); };
  try {
    if (name == "temperature")
      s.temperature = whole(to_float);
    else if (name == "top_k")
      s.top_k = whole(to_int);
    else if (name == "top_p")
      s.top_p = whole(to_float);
    else if (name == "min_p")
      s.min_p = whole(to_float);
    else if (name == "repeat_penalty")
      s.repeat_penalty = whole(to_float);
    else if (name == "repeat_last_n")
      s.repeat_last_n = whole(to_int);
    else if (name == "seed") {
      // As the API's seed: a negative one (Ollama's -1) draws a random seed.
      next.seed = whole(to_int64);
      s.seed = next.seed >= 0 ? static_cast<uint64_t>(next.seed) : std::random_device{}();
    } else if (name == "num_predict")
      next.num_predict = whole(to_int64);
    else if (name == "system")
      next.system = value;
    else if (name == "format")
      next.format = parse_format(value);
    else if (name == "noformat")
      next.format = nullptr;
    else if (name == "verbose")
      next.verbose = true;
    else if (name == "quiet")
      next.verbose = false;
    else if (name.empty())
      return "usage: /set PARAM VALUE (/? lists them)";
    else
      return "unknown parameter '" + name + "' (/? lists them)";
    sampling::validate(s);
    engine::validate_num_predict(next.num_predict);
    if (name != "system" && name != "format" && name != "noformat" && name != "verbose" &&
        name != "quiet")
      next.set_in_chat.insert(name);
  } catch (const sampling::ParamError& e) {
    return e.what();
  } catch (const std::exception&) {
    return "'" + value + "' is not a valid value for " + name;
  }
  o = std::move(next);
  return "set " + name + (value.empty() ? "" : " to " + value);
}

std::string show_params(const RunOptions& o) {
  const auto& s = o.sampler;
  return fmt::format(
      "temperature {}\ntop_k {}\ntop_p {}\nmin_p {}\nrepeat_penalty {}\nrepeat_last_n {}\n"
      "seed {}\nnum_predict {}\nsystem \"{}\"\nformat {}",
      s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty, s.repeat_last_n, s.seed,
      o.num_predict, o.system, o.format.is_null() ? "none" : o.format.dump());
}

// All of stdin, at most `max` bytes (more is an error, not a prompt cut short).
std::string read_stdin(uint64_t max) {
  std::string text;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, stdin)) > 0;) {
    if (text.size() + n > max)
      throw std::runtime_error("the piped input is larger than " + std::to_string(max >> 20) +
                               " MiB");
    text.append(buf, n);
  }
  return text;
}

// One line typed at the chat prompt: with line editing and history when stdin
// is a terminal (libedit), plain reads otherwise. nullopt at end of input.
std::optional<std::string> read_line(bool tty, const char* prompt = ">>> ") {
  if (tty) {
    // libedit drops every byte its locale's character type cannot decode, so in
    // the "C" locale all but ASCII vanished from what was typed. hearth's text is
    // UTF-8 whatever the environment says: the user's locale if it is UTF-8, else
    // C.UTF-8. Only LC_CTYPE: numbers keep their "C" formatting.
    static const bool utf8 = [] {
      const char* l = std::setlocale(LC_CTYPE, "");
      if (!l || std::string_view(nl_langinfo(CODESET)) != "UTF-8")
        std::setlocale(LC_CTYPE, "C.UTF-8");
      return true;
    }();
    (void)utf8;
    char* l = readline(prompt);
    if (!l) return std::nullopt;
    std::string line(l);
    std::free(l);
    if (!line.empty()) add_history(line.c_str());
    return line;
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

// What the user typed for one turn. As in Ollama's CLI, a message that opens
// with """ goes on over lines until one holds the closing """ (pasted code,
// a letter); such a message is text even when it starts with '/'.
struct Typed {
  std::string text;
  bool quoted = false;
};

std::optional<Typed> read_message(bool tty) {
  static constexpr std::string_view kQuotes = "\"\"\"";
  auto first = read_line(tty);
  if (!first || !first->starts_with(kQuotes)) {
    if (!first) return std::nullopt;
    return Typed{std::move(*first), false};
  }
  std::string line = first->substr(kQuotes.size()), text;
  for (bool more = false;; more = true) {
    const size_t end = line.find(kQuotes);
    text += (more ? "\n" : "") + line.substr(0, end);
    if (end != std::string::npos) break;
    auto next = read_line(tty, "... ");
    if (!next) break;  // the end of input closes the message
    line = std::move(*next);
  }
  return Typed{std::move(text), true};
}

// A reply streamed to stdout, and --verbose's statistics of it ("" without).
struct Reply {
  std::string text;
  std::string stats;
};

// Answers the conversation so far (its last message is the user's), streaming
// the reply to stdout; returns the reply, or nullopt when the turn could not be
// answered (it is dropped). May drop the oldest turns from `history`.
using ReplyFn =
    std::function<std::optional<Reply>(std::vector<chat::Message>& history, const RunOptions& o)>;

// "/show PART": one part of the model (model_part's parts); "" for the
// settings in force in this chat.
using ShowFn = std::function<std::string(const std::string& part, const RunOptions& o)>;

// The interactive chat, standalone or through a server.
int chat_loop(RunOptions o, const std::string& banner, const ReplyFn& reply,
              const std::function<void()>& on_clear, const ShowFn& show_part) {
  const bool tty = isatty(STDIN_FILENO);
  bool failed = false;
  std::vector<chat::Message> history;
  if (tty) std::fprintf(stderr, "%s; /? for help, /bye to leave\n", banner.c_str());
  std::signal(SIGINT, on_sigint);
  while (true) {
    const auto got = read_message(tty);
    if (!got) {
      if (tty) std::fprintf(stderr, "\n");  // after Ctrl-D, leave the shell a clean line
      break;
    }
    const std::string& line = got->text;
    if (line.empty()) continue;
    if (line[0] == '/' && !got->quoted) {
      const auto sp = line.find(' ');
      const std::string cmd = line.substr(0, sp);
      const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (cmd == "/bye" || cmd == "/exit") break;
      if (cmd == "/clear") {
        history.clear();
        if (on_clear) on_clear();
        std::fprintf(stderr, "conversation cleared\n");
      } else if (cmd == "/set") {
        // Ollama's spelling, "/set parameter top_k 20", works too.
        const std::string args = rest.starts_with("parameter ") ? rest.substr(10) : rest;
        const auto sp2 = args.find(' ');
        const std::string name = args.substr(0, sp2);
        const std::string value = sp2 == std::string::npos ? "" : args.substr(sp2 + 1);
        std::fprintf(stderr, "%s\n", set_param(o, name, value).c_str());
      } else if (cmd == "/show") {
        try {
          // This chat's system message (--system, /set system) before the model's.
          const std::string text =
              rest == "system" && !o.system.empty() ? o.system : show_part(rest, o);
          std::fprintf(stderr, "%s\n", terminal_safe(text, false, SIZE_MAX, true).c_str());
        } catch (const std::exception& e) {
          std::fprintf(stderr, "%s\n", terminal_safe(e.what()).c_str());
        }
      } else if (cmd == "/?" || cmd == "/help") {
        std::fprintf(stderr, "%s", kChatHelp);
      } else {
        std::fprintf(stderr, "unknown command '%s' (/? for help)\n", cmd.c_str());
      }
      continue;
    }
    history.push_back({"user", line});
    g_interrupted = false;
    g_generating = true;
    const auto r = reply(history, o);
    g_generating = false;
    if (!r) {
      history.pop_back();
      failed = failed || !tty;  // a script learns from the exit status that a turn failed
      continue;
    }
    // The reply's line ends, the statistics follow it, and a blank line
    // separates the turn from the next prompt.
    if (r->text.empty() || r->text.back() != '\n') std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "%s", r->stats.c_str());
    std::printf("\n");
    std::fflush(stdout);
    history.push_back({"assistant", r->text});
  }
  return failed ? 1 : 0;
}

int run_chat(const RunOptions& o, engine::Runtime& rt, engine::Session& session) {
  const std::string tmpl = template_text(o, rt);
  auto reply = [&](std::vector<chat::Message>& history,
                   const RunOptions& opts) -> std::optional<Reply> {
    engine::PromptSpec spec;
    spec.chat = true;
    spec.system = opts.system;
    spec.template_text = tmpl;
    spec.messages = opts.stored_messages;
    spec.messages.insert(spec.messages.end(), history.begin(), history.end());
    std::vector<int32_t> prompt;
    try {
      const auto p = engine::build_prompt(rt, spec, {session.n_ctx(), opts.num_predict, true});
      // The turns the context could not hold are forgotten for good; the
      // model's stored messages come back with the next turn, as on a server.
      const auto stored = static_cast<int64_t>(opts.stored_messages.size());
      history.erase(history.begin(),
                    history.begin() + std::clamp<int64_t>(p.dropped_messages - stored, 0,
                                                          static_cast<int64_t>(history.size())));
      prompt = p.tokens;
    } catch (const engine::ContextError& e) {
      print_error(e.what());
      return std::nullopt;
    }
    engine::GenerateOptions gen;
    try {
      gen = generate_options(opts, rt, true);
    } catch (const std::invalid_argument& e) {  // a schema hearth cannot enforce
      std::fprintf(stderr, "%s\n", terminal_safe(e.what()).c_str());
      return std::nullopt;
    }
    const auto r = generate_reply(session, rt, prompt, gen, true);
    return Reply{r.text, opts.verbose ? stats_text(r) : ""};
  };
  return chat_loop(
      o, fmt::format("chatting with {} (context {} tokens)", o.model, session.n_ctx()), reply,
      [&] { session.clear(); },
      [&](const std::string& part, const RunOptions& opts) {
        return part.empty() ? show_params(opts)
                            : model_part(o.record, rt.model->file(), part, o.model);
      });
}

// ---- through a running server (hearth serve), as Ollama's CLI does

// The options the user set explicitly, by Ollama's names: the model's stored
// parameters stay in force for the rest.
nlohmann::json server_options(const RunOptions& o, const CLI::App& cmd) {
  nlohmann::json j = nlohmann::json::object();
  auto given = [&](const char* flag) {
    // "--top-k" given, or "/set top_k" in the chat.
    std::string name(flag + 2);
    std::replace(name.begin(), name.end(), '-', '_');
    return cmd.count(flag) > 0 || o.set_in_chat.count(name) > 0;
  };
  const auto& s = o.sampler;
  // JSON has no NaN or infinity (nlohmann writes null: "not given"), so they
  // are refused here, as the API refuses them.
  auto number = [&](const char* name, double v) {
    if (!std::isfinite(v))
      sampling::throw_param_error(name, "a finite number", sampling::format_number(v));
    j[name] = v;
  };
  if (given("--temperature")) number("temperature", s.temperature);
  if (given("--top-k")) j["top_k"] = s.top_k;
  if (given("--top-p")) number("top_p", s.top_p);
  if (given("--min-p")) number("min_p", s.min_p);
  if (given("--repeat-penalty")) number("repeat_penalty", s.repeat_penalty);
  if (given("--repeat-last-n")) j["repeat_last_n"] = s.repeat_last_n;
  if (given("--seed")) j["seed"] = o.seed;
  if (given("--num-predict")) j["num_predict"] = o.num_predict;
  if (given("--ctx")) j["num_ctx"] = o.n_ctx;
  if (given("--stop")) j["stop"] = o.stop;
  return j;
}

// A request body as the server will read it: text that is not UTF-8 (a piped
// file in Latin-1) goes with U+FFFD in its place, as Go's encoder sends it for
// Ollama's CLI, instead of failing to serialize.
std::string request_body(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Streams one request's answer to stdout; returns it, nullopt on an error (printed).
std::optional<Reply> stream_from_server(const ServerAddress& a, const std::string& path,
                                        const nlohmann::json& body, bool verbose) {
  std::string text;
  nlohmann::json last;
  std::string error;
  const auto r = http_call(a, "POST", path, request_body(body), [&](const nlohmann::json& line) {
    if (line.contains("error")) {
      error = line["error"].is_string() ? line["error"].get<std::string>() : line.dump();
      return false;
    }
    std::string piece;
    if (line.contains("response")) piece = line["response"].get<std::string>();
    if (line.contains("message")) piece = line["message"].value("content", "");
    text += piece;
    stream_out(piece);
    if (line.value("done", false)) last = line;
    return !g_interrupted.load();
  });
  if (r.status != 200) error = error_message(r);
  if (!error.empty()) {
    print_error(error);
    return std::nullopt;
  }
  Reply reply{std::move(text), ""};
  if (verbose && last.is_object()) {
    const double pe = last.value("prompt_eval_duration", 0.0) / 1e9;
    const double ev = last.value("eval_duration", 0.0) / 1e9;
    const int64_t pc = last.value("prompt_eval_count", 0), ec = last.value("eval_count", 0);
    // A repeated answer took no computing: a speed would be the cache's.
    reply.stats = r.cache_hit ? fmt::format("{} tokens, repeated from the server's cache\n", ec)
                              : stats_text(pc, pe > 0 ? pc / pe : 0.0, ec, ev > 0 ? ec / ev : 0.0);
  }
  return reply;
}

// Without a server: the model's stored parameters, system message, template
// and messages under what the command line gives, as a server applies them.
void apply_stored(RunOptions& o, const CLI::App& cmd, const store::ModelRecord& rec) {
  namespace ollama = server::ollama;
  const auto stored =
      ollama::parse_options(ollama::Json::parse(rec.parameters.dump()), "parameter");
  const auto flags = server_options(o, cmd);
  const auto given = ollama::parse_options(ollama::Json::parse(flags.dump()));
  const auto merged = ollama::merge_options(stored.options, given.options);
  const uint64_t seed = o.sampler.seed;  // drawn at random when no seed is given
  server::Settings s;
  try {
    s = server::settings_of(merged);
  } catch (const sampling::ParamError& e) {
    if (flags.contains(e.name)) throw;  // the flag's error, named as the flag
    // A model created before its values were checked.
    throw std::runtime_error("model '" + o.model +
                             "' stores a parameter out of range: " + e.what());
  }
  o.sampler = s.gen.sampler;
  if (!merged.seed || *merged.seed < 0) o.sampler.seed = seed;
  o.num_predict = s.gen.max_tokens;
  o.stop = s.gen.stop;
  o.n_ctx = s.num_ctx;
  if (!cmd.count("--system")) o.system = rec.system;
  o.stored_template = rec.template_text;
  o.record = rec;
  for (const auto& m : rec.messages) o.stored_messages.push_back({m.role, m.content});
}

int run_via_server(const RunOptions& o, const CLI::App& cmd, const ServerAddress& a) {
  const auto options = server_options(o, cmd);
  if (!o.prompt.empty()) {
    g_generating = true;
    std::signal(SIGINT, on_sigint);
    nlohmann::json body;
    if (o.chat) {
      auto msgs = nlohmann::json::array();
      if (!o.system.empty()) msgs.push_back({{"role", "system"}, {"content", o.system}});
      msgs.push_back({{"role", "user"}, {"content", o.prompt}});
      body = {{"model", o.model}, {"messages", msgs}, {"options", options}};
    } else {
      body = {{"model", o.model}, {"prompt", o.prompt}, {"raw", true}, {"options", options}};
    }
    body["truncate"] = o.truncate;
    if (!o.format.is_null()) body["format"] = nlohmann::json::parse(o.format.dump());
    const auto r = stream_from_server(a, o.chat ? "/api/chat" : "/api/generate", body, o.verbose);
    if (!r) return g_interrupted.load() ? 130 : 1;
    end_line(r->text);
    std::fprintf(stderr, "%s", r->stats.c_str());
    return g_interrupted.load() ? 130 : 0;
  }
  auto reply = [&](std::vector<chat::Message>& history,
                   const RunOptions& opts) -> std::optional<Reply> {
    auto msgs = nlohmann::json::array();
    if (!opts.system.empty()) msgs.push_back({{"role", "system"}, {"content", opts.system}});
    for (const auto& m : history) msgs.push_back({{"role", m.role}, {"content", m.content}});
    // A conversation outgrows the context: its oldest turns give way, as
    // they do without a server.
    nlohmann::json body = {{"model", opts.model},
                           {"messages", msgs},
                           {"options", server_options(opts, cmd)},
                           {"truncate", true}};
    if (!opts.format.is_null()) body["format"] = nlohmann::json::parse(opts.format.dump());
    return stream_from_server(a, "/api/chat", body, opts.verbose);
  };
  // An unknown model is said before the chat starts, not at each turn.
  const auto show = [&] {
    const auto r = http_call(a, "POST", "/api/show", request_body({{"model", o.model}}));
    if (r.status != 200) throw std::runtime_error(error_message(r));
    return nlohmann::json::parse(r.body);
  };
  show();
  return chat_loop(
      o, fmt::format("chatting with {} on the server at {}:{}", o.model, a.host, a.port), reply, {},
      [&](const std::string& part, const RunOptions& opts) {
        if (!part.empty()) {
          check_model_part(part);
          return show().value(part, std::string());
        }
        // The server applies the model's parameters under what this chat sets,
        // as Ollama's CLI lists them: the model's, then the user's.
        const auto stored = show().value("parameters", std::string());
        std::string set;
        const auto given = server_options(opts, cmd);
        for (const auto& [k, v] : given.items())
          set += k + " " +
                 (v.is_string()         ? v.get<std::string>()
                  : v.is_number_float() ? fmt::format("{}", v.get<float>())  // as typed: 0.3
                                        : v.dump()) +
                 "\n";
        if (!opts.system.empty()) set += "system \"" + opts.system + "\"\n";
        if (!opts.format.is_null()) set += "format " + opts.format.dump() + "\n";
        if (!set.empty()) set.pop_back();
        return "the model's parameters:\n" + (stored.empty() ? "(none)" : stored) +
               "\nset in this chat:\n" + (set.empty() ? "(none)" : set);
      });
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Complete a prompt, or chat with a model");
  cmd->add_option("model", o->model, "Model name (tiny-kjv) or GGUF file")->required();
  cmd->add_option("prompt", o->prompt_words,
                  "Prompt for a one-shot completion, after any piped text (none: a chat, "
                  "typed or piped line by line)");
  cmd->add_flag("--chat", o->chat, "Wrap the prompt in the model's chat template");
  cmd->add_flag("--json", o->json,
                "Print one JSON object {text, tokens, prompt_tokens, eval_count, done_reason}");
  cmd->add_flag("--verbose", o->verbose, "Print prompt and generation speed to stderr");
  cmd->add_option("-n,--num-predict", o->num_predict,
                  "Tokens to generate at most (-1: until the context is full)");
  cmd->add_option("--ctx", o->n_ctx, "Context size in tokens (default: the model's, at most 4096)");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: one per physical core)");
  cmd->add_option("--temperature", o->sampler.temperature, "Sampling temperature (0: greedy)");
  cmd->add_option("--top-k", o->sampler.top_k, "Keep the k most probable tokens (0: all)");
  cmd->add_option("--top-p", o->sampler.top_p, "Nucleus sampling threshold");
  cmd->add_option("--min-p", o->sampler.min_p, "Drop tokens below min_p x the top probability");
  cmd->add_option("--repeat-penalty", o->sampler.repeat_penalty, "Penalty of repeated tokens");
  cmd->add_option("--repeat-last-n", o->sampler.repeat_last_n, "Tokens the penalty looks back");
  cmd->add_option("--seed", o->seed, "Random seed (default: random)");
  // One value per --stop: the words after it are the prompt and other flags.
  cmd->add_option("--stop", o->stop, "Stop string (repeatable)")->allow_extra_args(false);
  cmd->add_option("--system", o->system, "System message (chat)");
  cmd->add_option("--format", o->format_arg,
                  "Answer in JSON: json, or a JSON schema (inline, or a file holding one)");
  cmd->add_option("--template", o->template_name,
                  "Chat template: a built-in name or a Jinja file (default: the model's)");
  cmd->add_option("--kv-type", o->kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_flag("--truncate", o->truncate, "Keep the end of a prompt longer than the context");
  cmd->add_option("--probs", o->n_probs, "With --json: the top N tokens' probabilities per step")
      ->check(CLI::Range(0, 100));
  cmd->add_flag("--local", o->local, "Run in this process even when a server answers");
  cmd->callback([o, cmd] {
    // `hearth run tiny-kjv In the beginning`: the words are one prompt, as
    // Ollama's CLI joins them.
    o->prompt.clear();
    for (const auto& w : o->prompt_words) o->prompt += (o->prompt.empty() ? "" : " ") + w;
    // `cat notes.txt | hearth run MODEL "Summarize"`: the piped text, then the
    // prompt, as Ollama's CLI joins them. (Piped without a prompt, the lines
    // are a scripted chat.) Only a pipe or a file is read: never a terminal,
    // nor a socket a parent left open.
    if (!o->prompt.empty()) {
      struct stat st {};
      if (fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))) {
        const std::string piped = read_stdin(kMaxDocument);
        if (!piped.empty()) o->prompt = piped + " " + o->prompt;
      }
    }
    o->sampler.seed = o->seed >= 0 ? static_cast<uint64_t>(o->seed) : std::random_device{}();
    o->format = parse_format(o->format_arg);
    if (o->json && o->prompt.empty())
      throw std::runtime_error("--json needs a prompt (it is for one-shot runs)");
    // A model name (not a file) goes to a running server when one answers and
    // nothing asks for this process's own engine (--json, --probs, --template,
    // --kv-type, -t; --truncate goes to the server as Ollama's `truncate`).
    const bool is_path = o->model.find('/') != std::string::npos ||
                         (o->model.size() > 5 && o->model.ends_with(".gguf"));
    const bool local_only = o->local || o->json || o->n_probs > 0 || !o->template_name.empty() ||
                            cmd->count("--kv-type") || cmd->count("--threads");
    if (!is_path && !local_only) {
      const auto a = server_address();
      if (server_answers(a)) {
        const int code = run_via_server(*o, *cmd, a);
        if (code != 0) throw CommandExit{code};
        return;
      }
    }
    // Every number is checked before any work: the same checks as the API's.
    const store::ModelRecord rec = store::resolve_model_record(o->model);
    apply_stored(*o, *cmd, rec);
    auto rt = engine::Runtime::load(rec.gguf_path, o->threads);
    // A stored num_ctx beyond the model's limit is capped, as the server caps
    // it; a --ctx the user typed is checked.
    if (!cmd->count("--ctx"))
      o->n_ctx = std::min(o->n_ctx, engine::max_context(rt.model->hparams()));
    if (o->n_ctx != 0)
      engine::validate_context(rt.model->hparams(), o->n_ctx,
                               o->kv_type == "q8_0" ? backend::KvType::Q8_0 : backend::KvType::F16);
    engine::SessionOptions so;
    so.n_ctx = o->n_ctx;
    so.kv_type = o->kv_type == "q8_0" ? backend::KvType::Q8_0 : backend::KvType::F16;
    engine::Session session(*rt.model, so);
    const bool one_shot = !o->prompt.empty();
    const int code = one_shot ? run_once(*o, rt, session) : run_chat(*o, rt, session);
    if (code != 0) throw CommandExit{code};
  });
}

}  // namespace hearth::cli
