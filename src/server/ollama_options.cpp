// Ollama's `options` object (ollama_types.h): the table of its fields in
// Ollama's order, parsing as Go's Options.FromMap does (numbers as float64,
// options Ollama dropped accepted and ignored), merging a request's options
// over a model's, and writing them back as JSON.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <variant>

#include "server/ollama_types.h"
#include "store/modelfile.h"

namespace hearth::server::ollama {
namespace {

using OptionMember = std::variant<std::optional<int64_t> Options::*,
                                  std::optional<float> Options::*, std::optional<bool> Options::*,
                                  std::optional<std::vector<std::string>> Options::*>;

struct OptionField {
  std::string_view name;
  OptionMember member;
};

// Declaration order of Options, which is Ollama's order.
const std::array<OptionField, 20> kOptionFields = {{
    {"num_keep", &Options::num_keep},
    {"seed", &Options::seed},
    {"num_predict", &Options::num_predict},
    {"top_k", &Options::top_k},
    {"top_p", &Options::top_p},
    {"min_p", &Options::min_p},
    {"typical_p", &Options::typical_p},
    {"repeat_last_n", &Options::repeat_last_n},
    {"temperature", &Options::temperature},
    {"repeat_penalty", &Options::repeat_penalty},
    {"presence_penalty", &Options::presence_penalty},
    {"frequency_penalty", &Options::frequency_penalty},
    {"stop", &Options::stop},
    {"num_ctx", &Options::num_ctx},
    {"num_batch", &Options::num_batch},
    {"num_gpu", &Options::num_gpu},
    {"main_gpu", &Options::main_gpu},
    {"use_mmap", &Options::use_mmap},
    {"num_thread", &Options::num_thread},
    {"draft_num_predict", &Options::draft_num_predict},
}};

// Options Ollama once had and dropped; requests from older clients still send them.
constexpr std::array<std::string_view, 15> kRemovedOptions = {
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
    "penalize_newline",
    "tfs_z",
    "low_vram",
    "f16_kv",
    "vocab_only",
    "use_mlock",
    "numa",
    "logits_all",
    "embedding_only",
    "rope_frequency_base",
    "rope_frequency_scale",
    "num_gqa",
};

// Go's Options.FromMap: JSON numbers are float64 there, so an integer option
// takes any number and drops the fraction (store::option_integer, which a
// model's stored parameters share).
int64_t option_integer(const Json& v, std::string_view what, std::string_view name) {
  if (!v.is_number())
    throw WireError(fmt::format("{} \"{}\" must be an integer, got {}", what, name, v.type_name()));
  if (const auto i = store::option_integer(v)) return *i;
  throw WireError(fmt::format("{} \"{}\" is out of range: {}", what, name, v.dump()));
}

}  // namespace

ParsedOptions parse_options(const Json& object, std::string_view what) {
  ParsedOptions out;
  if (object.is_null()) return out;
  if (!object.is_object())
    throw WireError(fmt::format("{}s must be an object, got {}", what, object.type_name()));
  for (const auto& item : object.items()) {
    // Named, not structured bindings: clang 14 (the fuzz build) cannot capture those.
    const std::string& key = item.key();
    const Json& value = item.value();
    const auto field = std::find_if(kOptionFields.begin(), kOptionFields.end(),
                                    [&](const OptionField& f) { return f.name == key; });
    if (field == kOptionFields.end()) {
      if (std::find(kRemovedOptions.begin(), kRemovedOptions.end(), key) == kRemovedOptions.end())
        out.unknown.push_back(key);
      continue;
    }
    if (value.is_null()) continue;
    Options& o = out.options;
    std::visit(
        [&](auto member) {
          using T = typename std::remove_reference_t<decltype(o.*member)>::value_type;
          if constexpr (std::is_same_v<T, int64_t>) {
            o.*member = option_integer(value, what, key);
          } else if constexpr (std::is_same_v<T, float>) {
            if (!value.is_number())
              throw WireError(
                  fmt::format("{} \"{}\" must be a number, got {}", what, key, value.type_name()));
            o.*member = static_cast<float>(value.get<double>());
          } else if constexpr (std::is_same_v<T, bool>) {
            if (!value.is_boolean())
              throw WireError(
                  fmt::format("{} \"{}\" must be a boolean, got {}", what, key, value.type_name()));
            o.*member = value.get<bool>();
          } else {
            if (!value.is_array())
              throw WireError(fmt::format("{} \"{}\" must be an array of strings, got {}", what,
                                          key, value.type_name()));
            std::vector<std::string> strings;
            for (const Json& s : value) {
              if (!s.is_string())
                throw WireError(
                    fmt::format("{} \"{}\" must be an array of strings, got an array holding a {}",
                                what, key, s.type_name()));
              strings.push_back(s.get<std::string>());
            }
            o.*member = std::move(strings);
          }
        },
        field->member);
  }
  return out;
}

Options merge_options(const Options& model, const Options& request) {
  Options out = model;
  for (const OptionField& f : kOptionFields) {
    std::visit(
        [&](auto member) {
          if (request.*member) out.*member = request.*member;
        },
        f.member);
  }
  return out;
}

Json to_json(const Options& options) {
  Json j = Json::object();
  for (const OptionField& f : kOptionFields) {
    std::visit(
        [&](auto member) {
          if (options.*member) j[std::string(f.name)] = *(options.*member);
        },
        f.member);
  }
  return j;
}

}  // namespace hearth::server::ollama
