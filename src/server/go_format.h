// How Go, Ollama's language, writes and reads values, so that hearth's Ollama
// API reads and writes them as Ollama does: durations, timestamps, quoted
// strings, floats, and %#v of a JSON value (the parameters /api/show lists).
#pragma once

#include <string>
#include <string_view>

#include "server/ollama_types.h"

namespace hearth::server::ollama {

// Go's time.ParseDuration: an optional sign, then one or more decimal numbers
// each with a unit (ns, us, µs, μs, ms, s, m, h); "0" alone needs no unit.
// Throws WireError naming `field` and the text when it is not one.
Nanos parse_go_duration(std::string_view text, std::string_view field = "keep_alive");

// RFC 3339 in UTC with nanoseconds, trailing zeros of the fraction dropped (as
// Go's time.RFC3339Nano): "2023-08-04T19:22:45.499127Z", "2023-08-04T19:22:45Z".
std::string rfc3339_nano(Clock::time_point t);

// Go's strconv.Quote, for printable UTF-8: quotes, backslashes and control
// bytes escaped, other bytes kept.
std::string go_quote(std::string_view s);

// Go's %v of a float64: the shortest digits that read back the same, in
// exponent form when the exponent is < -4 or >= 6: 0.9 -> "0.9", 1e6 -> "1e+06".
std::string go_float(double v);

// Go's %#v of a JSON-decoded value: strings quoted, null as <nil>.
std::string go_value(const Json& v);

// A float32 as the double whose shortest decimal is the float's (0.00001, not
// 9.999999747378752e-06), so that JSON shows it as Go writes a float32 and it
// still reads back as the same float.
double float32_decimal(float f);

}  // namespace hearth::server::ollama
