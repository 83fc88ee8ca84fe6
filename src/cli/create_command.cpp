// hearth create NAME -f Modelfile [--quantize TYPE]
//
// Builds model NAME from a Modelfile (FROM, PARAMETER, TEMPLATE, SYSTEM,
// MESSAGE, LICENSE), like `ollama create`. FROM paths are relative to the
// Modelfile's folder; --quantize requantizes the base model's weights.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "cli/commands.h"
#include "fs/read_file.h"
#include "sampling/param_error.h"
#include "server/inference.h"
#include "server/ollama_types.h"
#include "store/modelfile.h"
#include "store/store.h"

namespace hearth::cli {

void add_create(CLI::App& app) {
  struct Options {
    std::string name, modelfile = "Modelfile", quantize;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("create", "Create a model from a Modelfile");
  cmd->add_option("NAME", opts->name, "model name, [namespace/]model[:tag]")->required();
  cmd->add_option("-f,--file", opts->modelfile, "the Modelfile (default: ./Modelfile)");
  cmd->add_option("-q,--quantize", opts->quantize, "quantize the weights (q8_0, q4_k_m, ...)");
  cmd->callback([opts] {
    const std::string display = store::parse_name(opts->name).display();  // fail early
    const std::string text = fs::read_file(opts->modelfile, kMaxDocument);
    const store::Modelfile mf = store::parse_modelfile(text, opts->modelfile);
    std::string dir = std::filesystem::path(opts->modelfile).parent_path().string();
    store::CreateSpec spec = store::CreateSpec::from_modelfile(mf, dir.empty() ? "." : dir);
    spec.quantize = opts->quantize;
    // A template that does not parse is refused now, not at every chat.
    if (spec.template_text) {
      try {
        server::ollama::check_model_template(*spec.template_text);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(opts->modelfile + ": " + e.what());
      }
    }
    // Values out of range are refused now, not at every run of the model.
    if (spec.parameters) {
      namespace ollama = server::ollama;
      const auto parameters = ollama::Json::parse(spec.parameters->dump());
      try {
        server::settings_of(ollama::parse_options(parameters, "parameter").options);
      } catch (const sampling::ParamError& e) {
        throw std::runtime_error(opts->modelfile + ": PARAMETER " + e.what());
      }
    }
    store::Store s(store::Store::default_root());
    s.create(opts->name, spec,
             [](const std::string& status) { std::fprintf(stderr, "%s\n", status.c_str()); });
    std::printf("created %s\n", display.c_str());
  });
}

}  // namespace hearth::cli
