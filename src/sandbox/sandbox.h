// The serving process confines itself (no egress, no new programs, writes
// only under its state directory), irreversibly, in two steps:
//
//   restrict_writes(dirs)  Landlock: files may be created, written, renamed
//                          and removed only under `dirs` (reads stay open:
//                          models may be imported from anywhere the user
//                          names). Landlock applies to the calling thread and
//                          the threads it creates later, so this runs before
//                          the server starts any thread. Kernels without
//                          Landlock (before 5.13, or disabled) leave it off.
//   deny_egress()          seccomp (libseccomp), on every thread of the
//                          process (TSYNC): socket() for anything but AF_UNIX,
//                          connect(), execve/execveat, ptrace and the other
//                          escape hatches (process_vm_*, bpf, io_uring, mount,
//                          namespaces) fail with EPERM. The listening socket
//                          is already bound, and accept4() is untouched, so
//                          the server goes on serving; it can open no
//                          connection to anywhere.
//
// Each returns whether it is now in force, and why not in `why`.
#pragma once

#include <string>
#include <vector>

namespace hearth::sandbox {

bool restrict_writes(const std::vector<std::string>& writable_dirs, std::string* why);
bool deny_egress(std::string* why);

}  // namespace hearth::sandbox
