// `hearth run MODEL [PROMPT]`: one-shot completion of PROMPT (raw text unless
// --chat), or an interactive chat over stdin when no prompt is given.
//
// stdout carries only generated text (or, with --json, one JSON object);
// statistics and the chat's own messages go to stderr.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "engine/generate.h"
#include "engine/runtime.h"
#include "store/resolve.h"

namespace hearth::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  bool chat = false;
  bool json = false;
  bool verbose = false;
  bool truncate = false;
  int64_t num_predict = 128;  // Ollama's classic num_predict; -1: until the context is full
  int64_t n_ctx = 0;
  int threads = 0;
  int n_probs = 0;
  std::string kv_type = "f16";
  std::string template_name;
  std::string system;
  std::vector<std::string> stop;
  int64_t seed = -1;  // < 0: a random seed
  sampling::SamplerParams sampler;
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

void print_stats(const engine::Timings& t) {
  std::fprintf(stderr,
               "prompt: %lld tokens, %.2f tokens/s\ngeneration: %lld tokens, %.2f tokens/s\n",
               static_cast<long long>(t.prompt_tokens), t.prompt_tokens_per_s(),
               static_cast<long long>(t.gen_tokens), t.gen_tokens_per_s());
}

// Writes text as it comes, unbuffered enough to read along.
bool stream_out(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
  return !g_interrupted.load();
}

// Generates, streaming to stdout when `stream`; a chat reply starts at its first
// visible character (SentencePiece pieces carry a leading space), a raw
// completion keeps it (it is part of the continuation).
engine::GenerateResult generate_reply(engine::Session& session, const engine::Runtime& rt,
                                      const std::vector<int32_t>& prompt,
                                      const engine::GenerateOptions& opts, bool chat, bool stream) {
  bool started = !chat;
  auto out = [&](std::string_view piece) {
    if (!started) {
      const auto first = piece.find_first_not_of(" \t");
      if (first == std::string_view::npos) return !g_interrupted.load();
      piece.remove_prefix(first);
      started = true;
    }
    return stream ? stream_out(piece) : !g_interrupted.load();
  };
  g_generating = true;
  auto r = engine::generate(session, *rt.tokenizer, prompt, opts, out);
  g_generating = false;
  if (chat) {
    const auto lead = r.text.find_first_not_of(" \t");
    r.text.erase(0, lead == std::string::npos ? r.text.size() : lead);
  }
  return r;
}

// Keeps BOS (when the prompt starts with it) and the last tokens that leave room
// for `reserve` generated ones.
std::vector<int32_t> truncate_prompt(const std::vector<int32_t>& ids, int32_t bos, int64_t n_ctx,
                                     int64_t reserve) {
  const int64_t keep = std::max<int64_t>(n_ctx - reserve, 1);
  if (static_cast<int64_t>(ids.size()) <= keep) return ids;
  const bool has_bos = bos >= 0 && !ids.empty() && ids[0] == bos;
  std::vector<int32_t> out;
  if (has_bos) out.push_back(bos);
  out.insert(out.end(), ids.end() - (keep - (has_bos ? 1 : 0)), ids.end());
  return out;
}

engine::GenerateOptions generate_options(const RunOptions& o) {
  engine::GenerateOptions g;
  g.max_tokens = o.num_predict;
  g.sampler = o.sampler;
  g.stop = o.stop;
  g.n_probs = o.n_probs;
  return g;
}

std::string render_chat(const chat::ChatTemplate& tmpl, const engine::Runtime& rt,
                        const std::vector<chat::Message>& messages) {
  const auto& tok = *rt.tokenizer;
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  return tmpl.apply(messages, /*add_generation_prompt=*/true, bos, eos);
}

chat::ChatTemplate load_template(const RunOptions& o, const engine::Runtime& rt) {
  const std::string model_template = rt.model->file().get_string("tokenizer.chat_template");
  return chat::ChatTemplate(chat::resolve_template(o.template_name, model_template));
}

int run_once(const RunOptions& o, engine::Runtime& rt, engine::Session& session) {
  std::vector<int32_t> prompt;
  if (o.chat) {
    std::vector<chat::Message> messages;
    if (!o.system.empty()) messages.push_back({"system", o.system});
    messages.push_back({"user", o.prompt});
    prompt = rt.encode_rendered(render_chat(load_template(o, rt), rt, messages));
  } else {
    prompt = rt.encode_prompt(o.prompt);
  }
  if (prompt.empty()) throw std::runtime_error("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) >= session.n_ctx()) {
    if (!o.truncate)
      throw engine::ContextError(fmt::format(
          "the prompt has {} tokens but the context holds {} (raise --ctx, or pass --truncate "
          "to keep the prompt's end)",
          prompt.size(), session.n_ctx()));
    const int64_t reserve =
        o.num_predict > 0 ? std::min(o.num_predict, session.n_ctx() / 2) : session.n_ctx() / 4;
    prompt = truncate_prompt(prompt, rt.tokenizer->bos(), session.n_ctx(), reserve);
  }
  const auto opts = generate_options(o);
  engine::GenerateResult r;
  if (o.json) {
    r = generate_reply(session, rt, prompt, opts, o.chat, /*stream=*/false);
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
    std::printf("%s\n", j.dump().c_str());
  } else {
    r = generate_reply(session, rt, prompt, opts, o.chat, /*stream=*/true);
    if (isatty(STDOUT_FILENO) && (r.text.empty() || r.text.back() != '\n')) std::printf("\n");
  }
  std::fflush(stdout);
  if (o.verbose) print_stats(r.timings);
  return 0;
}

const char* kChatHelp =
    "commands:\n"
    "  /bye                  leave\n"
    "  /clear                forget the conversation\n"
    "  /set PARAM VALUE      temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,\n"
    "                        seed, num_predict\n"
    "  /set system TEXT      the system message\n"
    "  /set verbose|quiet    show or hide speed after each reply\n"
    "  /show                 the current parameters\n"
    "  /?, /help             this help\n";

// Applies "/set NAME VALUE"; returns a message for the user.
std::string set_param(RunOptions& o, const std::string& name, const std::string& value) {
  auto& s = o.sampler;
  try {
    if (name == "temperature")
      s.temperature = std::stof(value);
    else if (name == "top_k")
      s.top_k = std::stoi(value);
    else if (name == "top_p")
      s.top_p = std::stof(value);
    else if (name == "min_p")
      s.min_p = std::stof(value);
    else if (name == "repeat_penalty")
      s.repeat_penalty = std::stof(value);
    else if (name == "repeat_last_n")
      s.repeat_last_n = std::stoi(value);
    else if (name == "seed")
      s.seed = std::stoull(value);
    else if (name == "num_predict")
      o.num_predict = std::stoll(value);
    else if (name == "system")
      o.system = value;
    else if (name == "verbose")
      o.verbose = true;
    else if (name == "quiet")
      o.verbose = false;
    else
      return "unknown parameter '" + name + "' (/? lists them)";
  } catch (const std::exception&) {
    return "'" + value + "' is not a valid value for " + name;
  }
  return "set " + name + (value.empty() ? "" : " to " + value);
}

std::string show_params(const RunOptions& o) {
  const auto& s = o.sampler;
  return fmt::format(
      "temperature {}\ntop_k {}\ntop_p {}\nmin_p {}\nrepeat_penalty {}\nrepeat_last_n {}\n"
      "seed {}\nnum_predict {}\nsystem \"{}\"",
      s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty, s.repeat_last_n, s.seed,
      o.num_predict, o.system);
}

int run_chat(RunOptions o, engine::Runtime& rt, engine::Session& session) {
  const chat::ChatTemplate tmpl = load_template(o, rt);
  const bool tty = isatty(STDIN_FILENO);
  std::vector<chat::Message> history;
  if (tty)
    std::fprintf(stderr, "chatting with %s (context %lld tokens); /? for help, /bye to leave\n",
                 o.model.c_str(), static_cast<long long>(session.n_ctx()));
  std::signal(SIGINT, on_sigint);
  std::string line;
  while (true) {
    if (tty) std::fprintf(stderr, ">>> ");
    if (!std::getline(std::cin, line)) {
      if (tty) std::fprintf(stderr, "\n");  // after Ctrl-D, leave the shell a clean line
      break;
    }
    if (line.empty()) continue;
    if (line[0] == '/') {
      const auto sp = line.find(' ');
      const std::string cmd = line.substr(0, sp);
      const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (cmd == "/bye" || cmd == "/exit") break;
      if (cmd == "/clear") {
        history.clear();
        session.clear();
        std::fprintf(stderr, "conversation cleared\n");
      } else if (cmd == "/set") {
        const auto sp2 = rest.find(' ');
        const std::string name = rest.substr(0, sp2);
        const std::string value = sp2 == std::string::npos ? "" : rest.substr(sp2 + 1);
        std::fprintf(stderr, "%s\n", set_param(o, name, value).c_str());
      } else if (cmd == "/show") {
        std::fprintf(stderr, "%s\n", show_params(o).c_str());
      } else if (cmd == "/?" || cmd == "/help") {
        std::fprintf(stderr, "%s", kChatHelp);
      } else {
        std::fprintf(stderr, "unknown command '%s' (/? for help)\n", cmd.c_str());
      }
      continue;
    }

    history.push_back({"user", line});
    // Oldest turns give way when the conversation outgrows the context, keeping
    // room for a reply of a quarter of it.
    std::vector<int32_t> prompt;
    while (true) {
      std::vector<chat::Message> messages;
      if (!o.system.empty()) messages.push_back({"system", o.system});
      messages.insert(messages.end(), history.begin(), history.end());
      prompt = rt.encode_rendered(render_chat(tmpl, rt, messages));
      if (static_cast<int64_t>(prompt.size()) <= session.n_ctx() * 3 / 4 || history.size() <= 1)
        break;
      history.erase(history.begin(), history.begin() + std::min<size_t>(2, history.size() - 1));
    }
    if (static_cast<int64_t>(prompt.size()) >= session.n_ctx()) {
      std::fprintf(stderr,
                   "that message has %zu tokens with the template; the context holds %lld\n",
                   prompt.size(), static_cast<long long>(session.n_ctx()));
      history.pop_back();
      continue;
    }
    g_interrupted = false;
    const auto r = generate_reply(session, rt, prompt, generate_options(o), true, true);
    std::printf(r.text.empty() || r.text.back() != '\n' ? "\n\n" : "\n");
    std::fflush(stdout);
    history.push_back({"assistant", r.text});
    if (o.verbose) print_stats(r.timings);
  }
  return 0;
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Complete a prompt, or chat with a model");
  cmd->add_option("model", o->model, "Model name (tiny-kjv) or GGUF file")->required();
  cmd->add_option("prompt", o->prompt, "Prompt for a one-shot completion (none: interactive chat)");
  cmd->add_flag("--chat", o->chat, "Wrap the prompt in the model's chat template");
  cmd->add_flag("--json", o->json,
                "Print one JSON object {text, tokens, prompt_tokens, eval_count, done_reason}");
  cmd->add_flag("--verbose", o->verbose, "Print prompt and generation speed to stderr");
  cmd->add_option("-n,--num-predict", o->num_predict,
                  "Tokens to generate at most (default 128; -1: until the context is full)");
  cmd->add_option("--ctx", o->n_ctx, "Context size in tokens (default: the model's, at most 4096)");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: one per physical core)");
  cmd->add_option("--temperature", o->sampler.temperature, "Sampling temperature (0: greedy)");
  cmd->add_option("--top-k", o->sampler.top_k, "Keep the k most probable tokens (0: all)");
  cmd->add_option("--top-p", o->sampler.top_p, "Nucleus sampling threshold");
  cmd->add_option("--min-p", o->sampler.min_p, "Drop tokens below min_p x the top probability");
  cmd->add_option("--repeat-penalty", o->sampler.repeat_penalty, "Penalty of repeated tokens");
  cmd->add_option("--repeat-last-n", o->sampler.repeat_last_n, "Tokens the penalty looks back");
  cmd->add_option("--seed", o->seed, "Random seed (default: random)");
  cmd->add_option("--stop", o->stop, "Stop string (repeatable)");
  cmd->add_option("--system", o->system, "System message (chat)");
  cmd->add_option("--template", o->template_name,
                  "Chat template: a built-in name or a Jinja file (default: the model's)");
  cmd->add_option("--kv-type", o->kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_flag("--truncate", o->truncate, "Keep the end of a prompt longer than the context");
  cmd->add_option("--probs", o->n_probs, "With --json: the top N tokens' probabilities per step")
      ->check(CLI::Range(0, 100));
  cmd->callback([o] {
    o->sampler.seed = o->seed >= 0 ? static_cast<uint64_t>(o->seed) : std::random_device{}();
    if (o->json && o->prompt.empty())
      throw std::runtime_error("--json needs a prompt (it is for one-shot runs)");
    auto rt = engine::Runtime::load(store::resolve_model(o->model), o->threads);
    engine::SessionOptions so;
    so.n_ctx = o->n_ctx;
    so.kv_type = o->kv_type == "q8_0" ? kernels::KvType::Q8_0 : kernels::KvType::F16;
    engine::Session session(*rt.model, so);
    const bool one_shot = !o->prompt.empty();
    const int code = one_shot ? run_once(*o, rt, session) : run_chat(*o, rt, session);
    if (code != 0) throw CommandExit{code};
  });
}

}  // namespace hearth::cli
