#include <stdexcept>

#include "cli/commands.h"

namespace hearth::cli {

// Not built yet: registered so that the command is listed and says so.
void add_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "(not yet available)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'quantize' is not available yet"); });
}

}  // namespace hearth::cli
