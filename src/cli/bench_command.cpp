#include <stdexcept>

#include "cli/commands.h"

namespace hearth::cli {

// Not built yet: registered so that the command is listed and says so.
void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "(not yet available)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'bench' is not available yet"); });
}

}  // namespace hearth::cli
