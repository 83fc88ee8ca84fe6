// hearth tokenize MODEL (-p TEXT | -f FILE) [--no-bos] [--parse-special] [--pieces] [--bench]
//
// Prints the token ids of the text as one JSON array, or with --pieces one
// line per token: the id, a tab, and the token's text as a JSON string.
// --bench prints the tokenizer's speed on the text instead (MB/s).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "fs/read_file.h"
#include "gguf/reader.h"
#include "store/resolve.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool no_bos = false;
  bool parse_special = false;
  bool pieces = false;
  bool bench = false;
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Repeats the encoding for about a second (at least once) and reports the
// best run in wall-clock time and in CPU time (the machine may be shared).
void run_bench(const tokenizer::Tokenizer& tok, const std::string& text, bool add_bos,
               bool parse_special) {
  using clock = std::chrono::steady_clock;
  double best_wall = 1e30, best_cpu = 1e30;
  size_t n_tokens = 0;
  const auto start = clock::now();
  int runs = 0;
  do {
    const auto t0 = clock::now();
    const double c0 = cpu_seconds();
    n_tokens = tok.encode(text, add_bos, parse_special).size();
    best_cpu = std::min(best_cpu, cpu_seconds() - c0);
    best_wall = std::min(best_wall, std::chrono::duration<double>(clock::now() - t0).count());
    ++runs;
  } while (std::chrono::duration<double>(clock::now() - start).count() < 1.0 && runs < 20);
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf(
      "%.3f MB, %zu tokens, best of %d runs: %.3f s wall (%.2f MB/s), %.3f s CPU (%.2f MB/s) "
      "[%s/%s]\n",
      mb, n_tokens, runs, best_wall, mb / best_wall, best_cpu, mb / best_cpu, tok.model().c_str(),
      tok.pre().c_str());
}

void run_tokenize(const TokenizeOptions& o) {
  const std::string path = store::resolve_model(o.model);
  const auto file = gguf::GgufFile::open(path);
  const auto tok = tokenizer::Tokenizer::from_gguf(*file);
  const std::string text = o.file.empty() ? o.prompt : fs::read_file(o.file, kMaxTextFile);
  const bool add_bos = !o.no_bos && tok->add_bos_default();
  if (o.bench) {
    run_bench(*tok, text, add_bos, o.parse_special);
    return;
  }
  const auto ids = tok->encode(text, add_bos, o.parse_special);
  std::string out;
  if (o.pieces) {
    for (const int32_t id : ids) {
      const std::string piece = tok->piece(id, true);
      out += std::to_string(id) + "\t" +
             nlohmann::json(piece).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
    }
  } else {
    out = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ", ";
      out += std::to_string(ids[i]);
    }
    out += "]\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("MODEL", opts->model, "model name or GGUF file (a vocab-only GGUF will do)")
      ->required();
  auto* p = cmd->add_option("-p,--prompt", opts->prompt, "text to tokenize");
  auto* f = cmd->add_option("-f,--file", opts->file, "file whose bytes to tokenize");
  p->excludes(f);
  cmd->add_flag("--no-bos", opts->no_bos, "do not add the BOS token the model asks for");
  cmd->add_flag("--parse-special", opts->parse_special,
                "match control tokens written in the text (e.g. </s>) as tokens");
  cmd->add_flag("--pieces", opts->pieces, "print one token per line: id, tab, text as JSON");
  cmd->add_flag("--bench", opts->bench, "print the tokenizer's speed on the text (MB/s)");
  cmd->callback([opts, p, f] {
    if (p->count() == 0 && f->count() == 0) {
      throw CLI::RequiredError("one of -p TEXT or -f FILE");
    }
    run_tokenize(*opts);
  });
}

}  // namespace hearth::cli
