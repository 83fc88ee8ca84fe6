// Ollama's Modelfile: FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE
// (ADAPTER is refused). Instruction names are case-insensitive, '#' starts
// a comment line, a value is the rest of the line, a "quoted" string or a
// """multi-line""" string (one ending in quotes closes at the last three of
// the run: """say "hi"""" is `say "hi"`). Parameters are typed by their known type; a
// repeated `PARAMETER stop` accumulates. TEMPLATE is a Jinja (Hugging Face
// chat template) text in hearth: Go template syntax is refused.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::store {

// "Modelfile:3: unknown parameter 'foo'": the file, the line and what is wrong.
class ModelfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct Modelfile {
  std::string from;  // as written: a model name, a GGUF path or a blob digest
  std::optional<std::string> template_text, system, license;
  nlohmann::json parameters = nlohmann::json::object();  // Ollama option name -> typed value
  std::vector<Message> messages;
};

// `where` names the text in errors (the file's path). Throws ModelfileError.
Modelfile parse_modelfile(std::string_view text, const std::string& where);

// `mf` in the syntax parse_modelfile reads, headed by comments naming model
// `name` (Ollama's `show --modelfile`): FROM, TEMPLATE, SYSTEM, PARAMETER (a
// stop list as one line per string), LICENSE, MESSAGE. Parsed back, it gives
// `mf` again, but for a text that holds both a newline and three quotes ("""),
// which the syntax cannot write.
std::string write_modelfile(const Modelfile& mf, const std::string& name);

// One parameter's value typed by its name: int, float, bool or string.
// Throws std::invalid_argument naming the parameter ("unknown parameter 'x'",
// "parameter 'top_k' wants an integer, got 'abc'").
nlohmann::json parse_parameter(const std::string& name, const std::string& value);
// An integer option's value as Go's Options.FromMap reads it (JSON numbers
// are float64 there): any number in int64's range, a fraction dropped;
// nullopt for anything else. The one conversion of a request's options and a
// model's stored parameters (ollama_options.cpp).
template <class Json>
std::optional<int64_t> option_integer(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.template get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    return v.template get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = std::trunc(v.template get<double>());
    // 2^63 is the first double past int64's range.
    if (std::isfinite(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

// Checks a parameters object (as an API client sends it) as a request's
// options are read: known names, values of their type (option_integer for
// integers), null left out; `stop` a string or an array of strings. Returns
// the typed parameters to store (2048.0 -> 2048). Throws std::invalid_argument.
nlohmann::json check_parameters(const nlohmann::json& parameters);
// Refuses Go template syntax ({{ .Prompt }}, {{- if .System }}, {{ end }}) with
// a message that hearth's templates are Jinja; Jinja that only shares a word
// with Go ({{ not loop.last }}) passes. Throws std::invalid_argument.
void check_template(std::string_view text);

}  // namespace hearth::store
