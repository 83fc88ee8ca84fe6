// hearth rm NAME...: removes models, and the blobs no other model uses.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "store/store.h"

namespace hearth::cli {

void add_rm(CLI::App& app) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("rm", "Remove models");
  cmd->add_option("NAME", *names, "models to remove")->required();
  cmd->callback([names] {
    store::Store s(store::Store::default_root());
    // Through a running server when one answers: it also unloads the model.
    const auto a = server_address();
    const bool server = server_answers(a);
    int failed = 0;
    for (const std::string& n : *names) {
      try {
        if (server) {
          const auto r = http_call(a, "DELETE", "/api/delete", nlohmann::json{{"model", n}}.dump());
          if (r.status != 200) throw std::runtime_error(error_message(r));
        } else {
          s.remove(n);
        }
        std::printf("deleted '%s'\n", store::parse_name(n).display().c_str());
      } catch (const std::exception& e) {
        print_error(e.what());
        failed = 1;
      }
    }
    if (failed) throw CommandExit{1};
  });
}

}  // namespace hearth::cli
