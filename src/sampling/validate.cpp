#include <charconv>
#include <cmath>
#include <string>

#include "sampling/param_error.h"
#include "sampling/sampler.h"

namespace hearth::sampling {

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void throw_param_error(const std::string& name, const std::string& range,
                       const std::string& value) {
  throw ParamError(name, name + " must be " + range + ", got " + value);
}

namespace {

// Floats are shown as the float the user's text became ("0.1", not 0.100000001).
std::string shown(float v) {
  if (!std::isfinite(v)) return format_number(v);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void check(bool ok, const char* name, const char* range, float v) {
  if (!ok) throw_param_error(name, range, shown(v));
}

void check(bool ok, const char* name, const char* range, int v) {
  if (!ok) throw_param_error(name, range, std::to_string(v));
}

}  // namespace

void validate(const SamplerParams& p) {
  // Comparisons are written so that NaN fails them.
  check(std::isfinite(p.temperature) && p.temperature >= 0, "temperature", "a finite number >= 0",
        p.temperature);
  check(p.top_k >= 0, "top_k", ">= 0 (0: off)", p.top_k);
  check(p.top_p > 0 && p.top_p <= 1, "top_p", "in (0, 1]", p.top_p);
  check(p.min_p >= 0 && p.min_p <= 1, "min_p", "in [0, 1]", p.min_p);
  check(p.typical_p > 0 && p.typical_p <= 1, "typical_p", "in (0, 1]", p.typical_p);
  check(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0, "repeat_penalty",
        "a finite number > 0", p.repeat_penalty);
  check(p.repeat_last_n >= -1, "repeat_last_n", ">= -1 (-1: all, 0: off)", p.repeat_last_n);
  check(std::isfinite(p.presence_penalty), "presence_penalty", "a finite number",
        p.presence_penalty);
  check(std::isfinite(p.frequency_penalty), "frequency_penalty", "a finite number",
        p.frequency_penalty);
}

}  // namespace hearth::sampling
