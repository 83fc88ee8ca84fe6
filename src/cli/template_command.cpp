// `hearth template FILE.jinja [--context CONTEXT.json] [--now TIME]`: renders a
// chat template to stdout exactly as the engine would (no added newline), with
// the context object's keys as the template's variables.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "fs/read_file.h"

namespace hearth::cli {

namespace {

// "2026-01-15T00:00:00", "2026-01-15 00:00:00" or "2026-01-15": a local time.
std::tm parse_now(const std::string& text) {
  for (const char* fmt : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), fmt, &tm);
    if (end && *end == 0) {
      std::time_t t = timegm(&tm);  // normalizes and fills weekday / day of year
      gmtime_r(&t, &tm);
      return tm;
    }
  }
  throw std::runtime_error("--now '" + text + "' is not a time like 2026-01-15T00:00:00");
}

}  // namespace

void add_template(CLI::App& app) {
  struct Options {
    std::string file;
    std::string context;
    std::string now;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("template", "Render a chat template (Jinja) to stdout");
  cmd->add_option("file", opts->file, "the template file (.jinja) or a built-in template's name")
      ->required();
  cmd->add_option("--context", opts->context,
                  "JSON object whose keys are the template's variables (default: one user turn "
                  "\"Hello\", add_generation_prompt=true, bos_token <s>, eos_token </s>)");
  cmd->add_option("--now", opts->now,
                  "the time strftime_now() reads, e.g. 2026-01-15T00:00:00 (default: now, local)");
  cmd->callback([opts] {
    nlohmann::ordered_json context;
    if (opts->context.empty()) {
      context = {{"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                 {"add_generation_prompt", true},
                 {"bos_token", "<s>"},
                 {"eos_token", "</s>"}};
    } else {
      try {
        context = nlohmann::ordered_json::parse(fs::read_file(opts->context, kMaxDocument));
      } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error("context '" + opts->context + "' is not valid JSON: " + e.what());
      }
      if (!context.is_object())
        throw std::runtime_error("context '" + opts->context + "' must hold a JSON object");
    }
    // FILE is a path or the name of a built-in template (chatml, llama3, ...).
    chat::RenderOptions options;
    if (!opts->now.empty()) options.now = parse_now(opts->now);
    std::string out;
    try {
      const std::string source = chat::resolve_template(opts->file, "");
      out = chat::ChatTemplate(source).render(context, options);
    } catch (const chat::TemplateError& e) {
      print_error("template " + opts->file + ": " + e.what());
      throw CommandExit{1};
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  });
}

}  // namespace hearth::cli
