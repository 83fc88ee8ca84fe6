#include <stdexcept>

#include "cli/commands.h"

namespace hearth::cli {

// Not built yet: registered so that the command is listed and says so.
void add_template(CLI::App& app) {
  auto* cmd = app.add_subcommand("template", "(not yet available)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'template' is not available yet"); });
}

}  // namespace hearth::cli
