#include <stdexcept>

#include "cli/commands.h"

namespace hearth::cli {

// Not built yet: registered so that the command is listed and says so.
void add_show(CLI::App& app) {
  auto* cmd = app.add_subcommand("show", "(not yet available)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'show' is not available yet"); });
}

}  // namespace hearth::cli
