// `hearth show MODEL`: what a model file is and the memory it needs.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/terminal.h"
#include "engine/limits.h"
#include "gguf/model_info.h"
#include "gguf/reader.h"
#include "model/hparams.h"
#include "model/memory.h"
#include "server/ollama_types.h"
#include "store/modelfile.h"
#include "store/resolve.h"

namespace hearth::cli {

namespace {

using gguf::Value;
using gguf::ValueType;
using Json = nlohmann::ordered_json;

constexpr uint64_t kArrayItemsShown = 8;  // a longer array shows its first items only
constexpr size_t kTextStringLimit = 160;  // longer strings are cut in text output

struct ShowOptions {
  std::string model;
  bool json = false;
  bool tensors = false;
  bool metadata = false;
  std::optional<int64_t> ctx;  // nullopt: the model's context length
  // Only one part, as Ollama's `show --modelfile` etc.: "modelfile",
  // "parameters", "system", "template" or "license"; "" for the description.
  std::string part;
};

// What show prints: file-level facts, architecture facts, the memory
// estimate (KV cache and compute only for an architecture hearth runs), and
// what the store keeps beside the weights.
struct Description {
  store::ModelRecord record;
  gguf::ModelInfo info;
  model::ArchFacts arch;
  model::MemoryEstimate mem;
  std::string no_estimate;  // why KV cache and compute are not estimated ("" when they are)
};

// 14649792 -> "14,649,792"
std::string grouped(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

// Bytes in binary units: "27.9 MiB".
std::string binary_size(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// 14649792 -> "14.6M"
std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000000)
    std::snprintf(buf, sizeof buf, "%.2fB", static_cast<double>(n) / 1e9);
  else if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
  return buf;
}

// A string quoted and escaped for one line of text, cut after `limit` bytes.
std::string quoted(const std::string& s, size_t limit) {
  std::string out = "\"" + terminal_safe(s, /*quote=*/true, limit) + "\"";
  if (s.size() > limit) out += "... (" + grouped(s.size()) + " bytes)";
  return out;
}

// JSON text with DEL and the C1 controls, which JSON allows raw, written as
// \u escapes too (the others are escaped by the JSON writer; these bytes occur
// only inside strings, so the result is the same JSON).
std::string json_terminal_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    char buf[8];
    if (static_cast<unsigned char>(json[i]) == 0x7f) {
      out += "\\u007f";
    } else if (c1_control_at(json, i)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(json[++i]));
      out += buf;
    } else {
      out += json[i];
    }
  }
  return out;
}

std::string scalar_text(const Value& v) {
  switch (v.type()) {
    case ValueType::STRING:
      return quoted(v.as_string(), kTextStringLimit);
    case ValueType::BOOL:
      return v.as_bool() ? "true" : "false";
    case ValueType::F32:
    case ValueType::F64: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", v.as_float());
      return buf;
    }
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return std::to_string(v.as_int());
    default:
      return std::to_string(v.as_uint());
  }
}

std::string value_text(const Value& v) {
  if (v.type() != ValueType::ARRAY) return scalar_text(v);
  const uint64_t n = v.array_size();
  std::string out =
      "[" + std::string(gguf::value_type_name(v.elem_type())) + " x " + grouped(n) + "]";
  for (uint64_t i = 0; i < n && i < kArrayItemsShown; ++i)
    out += (i ? ", " : " ") +
           (v.elem_type() == ValueType::STRING ? quoted(v.string_at(i), 40) : scalar_text(v.at(i)));
  if (n > kArrayItemsShown) out += ", ...";
  return out;
}

Json scalar_json(const Value& v) {
  switch (v.type()) {
    case ValueType::STRING:
      return v.as_string();
    case ValueType::BOOL:
      return v.as_bool();
    case ValueType::F32:
    case ValueType::F64:
      return v.as_float();
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return v.as_int();
    default:
      return v.as_uint();
  }
}

// Short arrays in full; a long one as its type, length and first items.
Json value_json(const Value& v) {
  if (v.type() != ValueType::ARRAY) return scalar_json(v);
  const uint64_t n = v.array_size();
  Json items = Json::array();
  for (uint64_t i = 0; i < n && i < kArrayItemsShown; ++i) items.push_back(scalar_json(v.at(i)));
  if (n <= kArrayItemsShown) return items;
  return Json{{"type", "array"},
              {"element_type", gguf::value_type_name(v.elem_type())},
              {"length", n},
              {"first", items}};
}

std::string dims_text(const gguf::TensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.dims[d]);
  return s + "]";
}

void print_json(const gguf::GgufFile& file, const Description& d, const ShowOptions& o) {
  const gguf::ModelInfo& m = d.info;
  const model::ArchFacts& a = d.arch;
  const model::MemoryEstimate& mem = d.mem;
  Json tokenizer{{"model", m.tokenizer_model}};
  tokenizer["bos_token_id"] = m.bos_id ? Json(*m.bos_id) : Json(nullptr);
  tokenizer["eos_token_id"] = m.eos_id ? Json(*m.eos_id) : Json(nullptr);
  Json j{{"path", m.path},
         {"file_size", m.file_size},
         {"architecture", m.architecture},
         {"name", m.name},
         {"parameters", m.n_params},
         {"context_length", a.n_ctx_train},
         {"embedding_length", a.n_embd},
         {"block_count", a.n_layer},
         {"feed_forward_length", a.n_ff},
         {"head_count", a.n_head},
         {"head_count_kv", a.n_head_kv},
         {"head_dim", a.head_dim},
         {"vocab_size", a.n_vocab},
         {"rope_freq_base", a.rope_freq_base},
         {"quantization", m.quantization},
         {"vocab_only", file.tensors().empty()},
         {"tensor_types", m.type_counts},
         {"tokenizer", tokenizer},
         {"chat_template", m.has_chat_template},
         {"memory",
          {{"context", mem.context},
           {"batch", mem.batch},
           {"weights", mem.weights},
           {"kv_cache", mem.kv_cache},
           {"compute", mem.compute},
           {"total", mem.total()}}}};
  if (!d.no_estimate.empty()) j["memory"]["not_estimated"] = d.no_estimate;
  const store::ModelRecord& rec = d.record;
  if (!rec.name.empty()) {
    Json messages = Json::array();
    for (const auto& msg : rec.messages)
      messages.push_back({{"role", msg.role}, {"content", msg.content}});
    j["stored"] = {{"name", rec.name},       {"parameters", Json::parse(rec.parameters.dump())},
                   {"system", rec.system},   {"template", rec.template_text},
                   {"license", rec.license}, {"messages", messages}};
  }
  if (o.tensors) {
    Json list = Json::array();
    for (const gguf::TensorInfo& t : file.tensors())
      list.push_back({{"name", t.name},
                      {"type", gguf::type_name(t.type)},
                      {"dims", std::vector<uint64_t>(t.dims, t.dims + t.n_dims)},
                      {"bytes", t.n_bytes},
                      {"offset", t.offset}});
    j["tensors"] = list;
  }
  if (o.metadata) {
    Json meta = Json::object();
    for (const auto& [key, v] : file.metadata()) meta[key] = value_json(v);
    j["metadata"] = meta;
  }
  std::puts(json_terminal_safe(j.dump(2, ' ', false, Json::error_handler_t::replace)).c_str());
}

void print_text(const gguf::GgufFile& file, const Description& d, const ShowOptions& o) {
  const gguf::ModelInfo& m = d.info;
  const model::ArchFacts& a = d.arch;
  const model::MemoryEstimate& mem = d.mem;
  // Every value below can come from the file: printed through terminal_safe.
  auto row = [](const char* label, const std::string& value) {
    std::printf("  %-16s %s\n", label, terminal_safe(value).c_str());
  };
  std::printf("model %s\n", terminal_safe(m.path).c_str());
  row("architecture", m.architecture.empty() ? "(not set)" : m.architecture);
  if (!m.name.empty()) row("name", m.name);
  row("parameters", grouped(m.n_params) + " (" + human_count(m.n_params) + ")");
  row("context length", grouped(a.n_ctx_train));
  row("embedding size", grouped(a.n_embd));
  row("layers", std::to_string(a.n_layer));
  row("heads", std::to_string(a.n_head) + " (KV heads " + std::to_string(a.n_head_kv) +
                   ", head size " + std::to_string(a.head_dim) + ")");
  row("feed-forward", grouped(a.n_ff));
  row("vocabulary", grouped(a.n_vocab));
  std::string types;
  for (const auto& [type, n] : m.type_counts)
    types += (types.empty() ? "" : ", ") + type + ": " + std::to_string(n);
  if (types.empty())
    row("quantization", "none: a vocabulary-only file (no tensors)");
  else
    row("quantization", m.quantization + " (tensors " + types + ")");
  row("file size", binary_size(m.file_size) + " (" + grouped(m.file_size) + " bytes)");
  std::string tok = m.tokenizer_model.empty() ? "(none)" : m.tokenizer_model;
  tok += ", BOS " + (m.bos_id ? std::to_string(*m.bos_id) : std::string("none"));
  tok += ", EOS " + (m.eos_id ? std::to_string(*m.eos_id) : std::string("none"));
  row("tokenizer", tok);
  const store::ModelRecord& rec = d.record;
  row("chat template", !rec.template_text.empty() ? "the model's own (stored)"
                       : m.has_chat_template      ? "yes"
                                                  : "no");
  std::string params;
  for (const auto& [k, v] : rec.parameters.items())
    params += (params.empty() ? "" : ", ") + k + " " + v.dump();
  if (!params.empty()) row("parameters set", params);
  if (!rec.system.empty()) std::printf("  %-16s %s\n", "system", quoted(rec.system, 60).c_str());
  if (!rec.messages.empty()) row("messages", std::to_string(rec.messages.size()));
  if (!rec.license.empty()) std::printf("  %-16s %s\n", "license", quoted(rec.license, 60).c_str());
  const bool beyond = a.n_ctx_train && mem.context > a.n_ctx_train;
  std::printf("memory at context %s (batch %s%s)\n", grouped(mem.context).c_str(),
              grouped(mem.batch).c_str(),
              beyond ? ("; beyond the trained context of " + grouped(a.n_ctx_train)).c_str() : "");
  row("weights", binary_size(mem.weights));
  if (d.no_estimate.empty()) {
    row("KV cache (f16)", binary_size(mem.kv_cache));
    row("compute (est.)", binary_size(mem.compute));
  } else {
    row("KV, compute", "not estimated: " + d.no_estimate);
  }
  row("total", binary_size(mem.total()));
  if (o.tensors) {
    std::printf("tensors (%zu)\n", file.tensors().size());
    for (const gguf::TensorInfo& t : file.tensors())
      std::printf("  %-32s %-5s %-18s %s\n", terminal_safe(t.name).c_str(),
                  std::string(gguf::type_name(t.type)).c_str(), dims_text(t).c_str(),
                  grouped(t.n_bytes).c_str());
  }
  if (o.metadata) {
    std::printf("metadata (%zu keys)\n", file.metadata().size());
    for (const auto& [key, v] : file.metadata())
      std::printf("  %s = %s\n", terminal_safe(key).c_str(), value_text(v).c_str());
  }
}

// One part alone, as Ollama's `show --modelfile` (and --parameters, --system,
// --template, --license) prints it. Raw into a file or pipe, so that
// `hearth show M --modelfile > Modelfile` creates M again; on a terminal the
// control characters a model's texts could hold are escaped.
// With --json: {"PART": text}.
void print_part(const ShowOptions& o, const store::ModelRecord& rec, const gguf::GgufFile& file) {
  std::string text = model_part(rec, file, o.part, o.model);
  if (o.json) {
    const Json j = {{o.part, text}};
    std::puts(json_terminal_safe(j.dump(2, ' ', false, Json::error_handler_t::replace)).c_str());
    return;
  }
  if (isatty(STDOUT_FILENO)) text = terminal_safe(text, false, SIZE_MAX, /*lines=*/true);
  if (!text.empty() && text.back() != '\n') text += '\n';
  std::fputs(text.c_str(), stdout);
}

void run_show(const ShowOptions& o) {
  store::ModelRecord rec = store::resolve_model_record(o.model);
  auto file = gguf::GgufFile::open(rec.gguf_path);
  if (!o.part.empty()) {
    if (o.tensors || o.metadata || o.ctx)
      throw std::invalid_argument("--" + o.part +
                                  " prints that part alone: --tensors, --metadata and --ctx "
                                  "describe the whole model");
    return print_part(o, rec, *file);
  }
  Description d{std::move(rec), gguf::describe_model(*file), model::read_arch_facts(*file), {}, {}};
  // A file that does not say its context length is shown at 2048 unless --ctx says.
  if (o.ctx) engine::validate_context_range(*o.ctx);
  const int64_t ctx =
      o.ctx ? static_cast<int64_t>(*o.ctx) : (d.arch.n_ctx_train > 0 ? d.arch.n_ctx_train : 2048);
  const int64_t batch = std::min<int64_t>(ctx, 512);
  std::optional<model::Hparams> h;
  try {
    h = model::read_hparams(*file);
  } catch (const gguf::GgufError& e) {
    d.no_estimate = e.what();
  }
  if (h) {
    d.mem = model::estimate_memory(*h, d.info.weights_bytes, ctx, 1, batch, backend::KvType::F16);
  } else {
    d.mem.context = ctx;
    d.mem.parallel = 1;
    d.mem.batch = batch;
    d.mem.weights = d.info.weights_bytes;
  }
  if (o.json)
    print_json(*file, d, o);
  else
    print_text(*file, d, o);
}

}  // namespace

std::string model_part(const store::ModelRecord& rec, const gguf::GgufFile& file,
                       const std::string& part, const std::string& model) {
  if (part == "modelfile")
    return store::write_modelfile(store::modelfile_of(rec), rec.name.empty() ? model : rec.name);
  if (part == "parameters")
    return server::ollama::format_parameters(server::ollama::Json::parse(rec.parameters.dump()));
  if (part == "system") return rec.system;
  if (part == "template")
    return !rec.template_text.empty() ? rec.template_text
                                      : file.get_string("tokenizer.chat_template");
  check_model_part(part);
  return rec.license;
}

void check_model_part(const std::string& part) {
  std::string parts;
  for (const char* p : kModelParts) {
    if (part == p) return;
    parts += (parts.empty() ? "" : ", ") + std::string(p);
  }
  throw std::invalid_argument("no part '" + part + "' (" + parts + ")");
}

void add_show(CLI::App& app) {
  auto opts = std::make_shared<ShowOptions>();
  auto* cmd = app.add_subcommand("show", "Describe a model: shape, quantization, memory needed");
  cmd->add_option("MODEL", opts->model, "model name (tiny-kjv) or GGUF file")->required();
  cmd->add_flag("--json", opts->json, "print one JSON object");
  cmd->add_flag("--tensors", opts->tensors, "list every tensor: name, type, dims, bytes");
  cmd->add_flag("--metadata", opts->metadata, "list every metadata key (long arrays abbreviated)");
  cmd->add_option("--ctx", opts->ctx,
                  "context length for the memory estimate (default: the "
                  "model's)");
  auto* parts = cmd->add_option_group("part", "print one part only, as Ollama's show does");
  for (const char* part : kModelParts)
    parts->add_flag_callback(
        std::string("--") + part, [opts, part] { opts->part = part; },
        std::string("print the model's ") + part + " only");
  parts->require_option(0, 1);
  cmd->callback([opts] { run_show(*opts); });
}

}  // namespace hearth::cli
