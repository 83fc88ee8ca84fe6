// hearth: a private, local LLM server and command-line tool.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/terminal.h"
#include "fs/atomic_file.h"
#include "sampling/param_error.h"

namespace {

// The flag that sets an Ollama option: "top_p" -> "--top-p"; the context and
// prediction lengths have shorter names on the command line.
std::string flag_of(const std::string& option) {
  if (option == "num_ctx") return "--ctx";
  if (option == "num_predict") return "--num-predict";
  if (option == "num_thread") return "--threads";
  std::string flag = "--" + option;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

// A command's output that could not be written (a full disk, a closed pipe)
// is a failure, not a silent success: 0 when everything reached stdout.
int check_stdout() {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;  // std::cout writes through stdout
  const int err = errno;
  std::cout.flush();
  if (flushed && !std::ferror(stdout) && std::cout.good()) return 0;
  std::fprintf(stderr, "hearth: error: cannot write the output: %s\n",
               err ? std::strerror(err) : "write error");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  hearth::fs::install_cleanup_handlers();  // no temporary file outlives a Ctrl-C
  CLI::App app{"hearth: run language models privately on your own machine", "hearth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hearth 0.1.0");
  hearth::cli::add_show(app);
  hearth::cli::add_quantize(app);
  hearth::cli::add_synth(app);
  hearth::cli::add_tokenize(app);
  hearth::cli::add_template(app);
  hearth::cli::add_run(app);
  hearth::cli::add_bench(app);
  hearth::cli::add_perplexity(app);
  hearth::cli::add_serve(app);
  hearth::cli::add_ps(app);
  hearth::cli::add_stop(app);
  hearth::cli::add_import(app);
  hearth::cli::add_create(app);
  hearth::cli::add_list(app);
  hearth::cli::add_cp(app);
  hearth::cli::add_rm(app);
  hearth::cli::add_keys(app);
  hearth::cli::add_doctor(app);
  hearth::cli::add_cost(app);
  int code = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    code = app.exit(e);
  } catch (const hearth::cli::CommandExit& e) {
    code = e.code;
  } catch (const hearth::sampling::ParamError& e) {
    // "top_p must be ..." -> "--top-p must be ...": the name the user typed.
    std::string what = e.what();
    if (what.starts_with(e.name)) what = flag_of(e.name) + what.substr(e.name.size());
    hearth::cli::print_error(what);
    code = 1;
  } catch (const std::exception& e) {
    hearth::cli::print_error(e.what());
    code = 1;
  }
  const int output = check_stdout();
  return code != 0 ? code : output;
}
