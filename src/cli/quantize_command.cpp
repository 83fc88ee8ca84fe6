// `hearth quantize IN OUT TYPE`: requantize a model the way llama-quantize
// does (same per-tensor types, same bytes), with a summary of the sizes.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "gguf/reader.h"
#include "model/hparams.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"
#include "store/resolve.h"

namespace hearth::cli {
namespace {

struct QuantizeArgs {
  std::string input;
  std::string output;
  std::string type;
  std::optional<int> threads;  // nullopt: one per physical core
  bool force = false;
  bool allow_requantize = false;
};

std::string type_list() {
  std::string s;
  for (const quant::FileType& f : quant::file_types()) {
    if (!s.empty()) s += ", ";
    s += f.name;
  }
  return s;
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// "13 q4_0, 1 q8_0, 13 f32": how many tensors of each type the new file holds.
std::string type_counts(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  std::map<std::string, int> counts;
  for (const auto& t : file->tensors()) ++counts[std::string(gguf::type_name(t.type))];
  std::string s;
  for (const auto& [name, n] : counts) {
    if (!s.empty()) s += ", ";
    s += std::to_string(n) + " " + name;
  }
  return s;
}

void run_quantize(const QuantizeArgs& args) {
  const auto target = quant::find_file_type(args.type);
  if (!target) {
    throw std::runtime_error("unknown quantization type '" + args.type +
                             "' (expected one of: " + type_list() + ")");
  }
  const std::string in = store::resolve_model(args.input);
  quant::QuantizeOptions options;
  options.type = std::string(target->name);
  options.progress = isatty(fileno(stderr)) != 0;
  options.force = args.force;
  options.allow_requantize = args.allow_requantize;
  threads::ThreadPool pool(args.threads);
  const quant::QuantizeSummary s = quant::quantize_model(
      in, model::mix_shape(*gguf::GgufFile::open(in)), args.output, options, pool);
  std::printf("quantized %s -> %s (%s, general.file_type %u)\n", in.c_str(), args.output.c_str(),
              std::string(target->name).c_str(), target->llama_ftype);
  std::printf("  tensors: %s\n", type_counts(args.output).c_str());
  std::printf("  weights: %.2f M\n", static_cast<double>(s.n_params) / 1e6);
  std::printf("  size:    %.2f MiB -> %.2f MiB\n", mib(s.bytes_before), mib(s.bytes_after));
  std::printf("  bits per weight: %.2f -> %.2f\n", s.bpw_before, s.bpw_after);
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand(
      "quantize", "Convert a model's tensors to another type (the same bytes as llama-quantize)");
  cmd->add_option("input", args->input, "Model file or name (e.g. tiny-kjv)")->required();
  cmd->add_option("output", args->output, "GGUF file to write")->required();
  cmd->add_option("type", args->type,
                  "Target type: " + type_list() + " (q4_k = q4_k_m, q5_k = q5_k_m)")
      ->required();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: one per physical core)");
  cmd->add_flag("-f,--force", args->force, "Replace the output file if it exists");
  cmd->add_flag("--allow-requantize", args->allow_requantize,
                "Convert tensors that are already quantized (a second rounding over the first)");
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace hearth::cli
