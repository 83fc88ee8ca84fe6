// hearth import NAME FILE.gguf [--copy]
//
// Records a GGUF in the store as model NAME. By default the file stays where
// it is: its SHA-256 is computed once and the store keeps a link to it (a
// later change to the file is detected when the model is used). --copy copies
// it into the store instead, verified.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "store/store.h"

namespace hearth::cli {

void add_import(CLI::App& app) {
  struct Options {
    std::string name, file;
    bool copy = false;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("import", "Record a GGUF file as a model of the store");
  cmd->add_option("NAME", opts->name, "model name, [namespace/]model[:tag]")->required();
  cmd->add_option("FILE", opts->file, "the GGUF file")->required();
  cmd->add_flag("--copy", opts->copy, "copy the file into the store instead of linking to it");
  cmd->callback([opts] {
    store::Store s(store::Store::default_root());
    const std::string display = store::parse_name(opts->name).display();
    s.import_gguf(opts->name, opts->file, opts->copy,
                  [](const std::string& status) { std::fprintf(stderr, "%s\n", status.c_str()); });
    std::printf("imported %s as %s%s\n", opts->file.c_str(), display.c_str(),
                opts->copy ? " (copied)" : "");
  });
}

}  // namespace hearth::cli
