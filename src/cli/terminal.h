// Text that came from a file or a client, made safe to print to a terminal:
// `hearth show` prints a model's metadata and stored texts with it, and every
// error message goes through it, since both can quote bytes a crafted file
// chose (an escape sequence could rewrite the screen or the window title).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::cli {

// Whether s[i] starts a C1 control character (U+0080..U+009F: UTF-8 C2 80..C2 9F),
// which some terminals obey like ESC sequences (U+009B is CSI).
bool c1_control_at(std::string_view s, size_t i);

// Every control character (below 0x20, 0x7f, and the C1 range) written as an
// escape ("\x1b", "\u009b"). With `quote`, also " and \ escaped, for a quoted
// string; with `lines`, newlines and tabs stay as they are (a multi-line text).
// At most `limit` bytes of `s` are read.
std::string terminal_safe(std::string_view s, bool quote = false, size_t limit = SIZE_MAX,
                          bool lines = false);

// "hearth: error: MESSAGE" on stderr, through terminal_safe (newlines kept).
void print_error(std::string_view message);

}  // namespace hearth::cli
