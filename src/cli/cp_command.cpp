// hearth cp SRC DST: DST becomes a copy of model SRC (sharing its blobs).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "store/store.h"

namespace hearth::cli {

void add_cp(CLI::App& app) {
  struct Options {
    std::string src, dst;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("cp", "Copy a model");
  cmd->add_option("SRC", opts->src, "the model to copy")->required();
  cmd->add_option("DST", opts->dst, "the new name")->required();
  cmd->callback([opts] {
    store::Store s(store::Store::default_root());
    s.copy(opts->src, opts->dst);
    std::printf("copied '%s' to '%s'\n", store::parse_name(opts->src).display().c_str(),
                store::parse_name(opts->dst).display().c_str());
  });
}

}  // namespace hearth::cli
