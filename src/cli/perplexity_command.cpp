// `hearth perplexity MODEL -f TEXT`: perplexity as llama-perplexity computes it
// (engine/perplexity.h), so the figure compares with llama.cpp's. Progress per
// window goes to stderr; the last line of stdout is `PPL = <value>`.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "engine/limits.h"
#include "engine/perplexity.h"
#include "engine/runtime.h"
#include "fs/read_file.h"
#include "store/resolve.h"

namespace hearth::cli {
namespace {

struct PerplexityOptions {
  std::string model;
  std::string file;
  std::optional<int64_t> n_ctx;  // nullopt: 512, or the model's training context when smaller
  std::optional<int> threads;    // nullopt: one per physical core
  std::string kv_type = "f16";
  bool json = false;
};

void run_perplexity(const PerplexityOptions& o) {
  const std::string text = fs::read_file(o.file, kMaxTextFile);
  auto rt = engine::Runtime::load(store::resolve_model(o.model), o.threads);
  const int64_t train = rt.model->hparams().n_ctx_train;
  const int64_t n_ctx = o.n_ctx ? *o.n_ctx : std::min<int64_t>(512, train > 0 ? train : 512);
  // Perplexity keeps the logits of every position of a window.
  engine::validate_context(rt.model->hparams(), n_ctx,
                           o.kv_type == "q8_0" ? backend::KvType::Q8_0 : backend::KvType::F16,
                           static_cast<uint64_t>(rt.model->hparams().n_vocab) * sizeof(float));
  // As llama-perplexity: the whole text with BOS, which also starts every window.
  const auto& tok = *rt.tokenizer;
  const auto tokens = tok.encode(text, tok.add_bos_default(), /*parse_special=*/false);
  const int32_t bos = tok.add_bos_default() ? tok.bos() : -1;
  const auto kv = o.kv_type == "q8_0" ? backend::KvType::Q8_0 : backend::KvType::F16;
  const auto r =
      engine::perplexity(*rt.model, tokens, bos, n_ctx, kv, [&](const engine::PerplexityWindow& w) {
        if (o.json) return;
        if (w.index == 0) {  // once the text is known to be long enough
          const size_t n = tokens.size() / static_cast<size_t>(n_ctx);
          std::fprintf(stderr, "perplexity: %zu tokens, %zu window%s of %lld\n", tokens.size(), n,
                       n == 1 ? "" : "s", static_cast<long long>(n_ctx));
        }
        std::fprintf(stderr, "[%lld]%.4f,", static_cast<long long>(w.index + 1), w.running_ppl);
      });
  if (o.json) {
    auto windows = nlohmann::json::array();
    for (const auto& w : r.windows)
      windows.push_back({{"index", w.index},
                         {"scored", w.scored},
                         {"nll", w.nll},
                         {"ppl", w.ppl},
                         {"running_ppl", w.running_ppl}});
    const nlohmann::json j = {{"ppl", r.ppl},           {"n_ctx", r.n_ctx},
                              {"n_tokens", r.n_tokens}, {"n_scored", r.n_scored},
                              {"seconds", r.seconds},   {"windows", windows}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::fprintf(stderr, "\n%lld tokens scored in %.2f s (%.1f tokens/s evaluated)\n",
               static_cast<long long>(r.n_scored), r.seconds,
               static_cast<double>(r.windows.size() * static_cast<size_t>(r.n_ctx)) / r.seconds);
  std::printf("PPL = %.4f\n", r.ppl);
}

}  // namespace

void add_perplexity(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file");
  cmd->add_option("model", o->model, "Model name (tiny-kjv) or GGUF file")->required();
  cmd->add_option("-f,--file", o->file, "Text file")->required();
  cmd->add_option("-c,--ctx", o->n_ctx, "Tokens per window (default 512, or the model's context)");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: one per physical core)");
  cmd->add_option("--kv-type", o->kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_flag("--json", o->json, "Print one JSON object: the value and per-window figures");
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace hearth::cli
