#include <stdexcept>

#include "cli/commands.h"

namespace hearth::cli {

// Not built yet: registered so that the command is listed and says so.
void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "(not yet available)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'tokenize' is not available yet"); });
}

}  // namespace hearth::cli
