// Each `hearth` subcommand registers itself on the CLI11 app. The callback a
// command installs returns through CommandExit to give main() its exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace hearth::store {
struct ModelRecord;
}
namespace hearth::gguf {
class GgufFile;
}

namespace hearth::cli {

// Thrown from a subcommand callback to end with `code` after printing nothing more.
struct CommandExit {
  int code;
};

void add_show(CLI::App& app);
void add_quantize(CLI::App& app);
void add_synth(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_template(CLI::App& app);
void add_run(CLI::App& app);
void add_bench(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_serve(CLI::App& app);
void add_ps(CLI::App& app);
void add_stop(CLI::App& app);
void add_import(CLI::App& app);
void add_create(CLI::App& app);
void add_list(CLI::App& app);
void add_cp(CLI::App& app);
void add_rm(CLI::App& app);
void add_keys(CLI::App& app);
void add_doctor(CLI::App& app);
void add_cost(CLI::App& app);

// The most a command reads of a file the user names (fs::read_file), so
// that /dev/zero or a runaway file is refused, not read until memory ends: a
// document parsed whole (a Modelfile, a template's JSON context), and a text
// to tokenize or score (a corpus; wiki.test.raw is 1.3 MB).
inline constexpr uint64_t kMaxDocument = 16ull << 20;
inline constexpr uint64_t kMaxTextFile = 1ull << 30;

// One part of a model as `hearth show MODEL --PART` and the chat's `/show
// PART` print it: "modelfile", "parameters", "system", "template" (the
// model's own, else its GGUF's) or "license". `model` names it in a
// Modelfile's comments when `rec` is a file's. Throws std::invalid_argument
// for another part.
std::string model_part(const store::ModelRecord& rec, const gguf::GgufFile& file,
                       const std::string& part, const std::string& model);
inline constexpr const char* kModelParts[] = {"modelfile", "parameters", "system", "template",
                                              "license"};
// Throws std::invalid_argument naming the parts when `part` is none of them.
void check_model_part(const std::string& part);

// The environment variable `name`; "" when it is unset.
std::string env(const char* name);

}  // namespace hearth::cli
