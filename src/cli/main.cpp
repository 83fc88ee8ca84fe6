// hearth: a private, local LLM server and command-line tool.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "fs/atomic_file.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const hearth::cli::CommandExit& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
