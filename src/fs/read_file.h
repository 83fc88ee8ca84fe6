// Reading a whole file that a user or the store names, bounded: a device
// such as /dev/zero, or a file that keeps growing, is refused once it passes
// the bound instead of filling memory.
#pragma once

#include <cstdint>
#include <string>

#include "fs/atomic_file.h"  // FileError

namespace hearth::fs {

// The bytes of `path`, at most `max_bytes` of them. Throws FileError naming
// the path: "cannot read 'x': No such file or directory", "'x' is larger than
// 16777216 bytes". With `regular_only`, anything but a regular file (FIFO,
// device, folder) is refused before a byte is read ("'x' is not a regular
// file"), and the open never waits for a FIFO's writer; without it a pipe
// (`-f <(cmd)`) is read to its end.
std::string read_file(const std::string& path, uint64_t max_bytes, bool regular_only = false);

}  // namespace hearth::fs
