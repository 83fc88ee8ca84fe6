// The error for a number a user passed (a CLI flag, an API option) that lies
// outside what it means. One type for every such number, wherever its meaning
// is owned (sampling here, context and prediction limits in engine/limits.h),
// so the CLI and the server report them the same way.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace hearth::sampling {

// `name` is the Ollama option name ("top_p", "num_ctx"); the CLI maps it to its
// flag ("--top-p"), the server reports it as is. what() reads
// "top_p must be in (0, 1], got 1.5".
struct ParamError : std::invalid_argument {
  ParamError(std::string option, const std::string& message)
      : std::invalid_argument(message), name(std::move(option)) {}
  std::string name;
};

// Shortest text that reads back as `v` ("1.5", "nan", "inf", "1e+30").
std::string format_number(double v);

// Throws ParamError "NAME must be RANGE, got VALUE" naming the option.
[[noreturn]] void throw_param_error(const std::string& name, const std::string& range,
                                    const std::string& value);

}  // namespace hearth::sampling
