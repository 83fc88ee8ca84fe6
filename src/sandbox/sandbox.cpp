#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth::sandbox {
namespace {

// LeakSanitizer inspects the process at exit through ptrace: sanitizer builds
// (tests only) keep ptrace, everything else stays denied.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKeepPtrace = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kKeepPtrace = true;
#else
constexpr bool kKeepPtrace = false;
#endif
#else
constexpr bool kKeepPtrace = false;
#endif

// What Landlock ABI 1 calls writing; TRUNCATE (ABI 3) and REFER (ABI 2) are
// added where the kernel knows them.
constexpr uint64_t kWriteAccess = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                                  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                                  LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                                  LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                                  LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
constexpr uint64_t kRefer = 1ULL << 13;     // LANDLOCK_ACCESS_FS_REFER
constexpr uint64_t kTruncate = 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE

}  // namespace

bool restrict_writes(const std::vector<std::string>& writable_dirs, std::string* why) {
  const long abi =
      ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    *why = std::string("the kernel has no Landlock (") + std::strerror(errno) + ")";
    return false;
  }
  uint64_t access = kWriteAccess;
  if (abi >= 2) access |= kRefer;
  if (abi >= 3) access |= kTruncate;
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = access;
  const int ruleset =
      static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) {
    *why = std::string("landlock_create_ruleset: ") + std::strerror(errno);
    return false;
  }
  for (const auto& dir : writable_dirs) {
    const int fd = ::open(dir.c_str(), O_PATH | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0) continue;  // not there: nothing to write under it
    landlock_path_beneath_attr rule{};
    rule.allowed_access = access;
    rule.parent_fd = fd;
    const long rc = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    ::close(fd);
    if (rc != 0) {
      *why = "landlock_add_rule " + dir + ": " + std::strerror(errno);
      ::close(ruleset);
      return false;
    }
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
    *why = std::string("landlock_restrict_self: ") + std::strerror(errno);
    ::close(ruleset);
    return false;
  }
  ::close(ruleset);
  return true;
}

bool deny_egress(std::string* why) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    *why = "seccomp_init failed";
    return false;
  }
  const auto deny = SCMP_ACT_ERRNO(EPERM);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  for (const int sys :
       {SCMP_SYS(connect),     SCMP_SYS(execve),           SCMP_SYS(execveat),
        SCMP_SYS(ptrace),      SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
        SCMP_SYS(bpf),         SCMP_SYS(io_uring_setup),   SCMP_SYS(mount),
        SCMP_SYS(umount2),     SCMP_SYS(unshare),          SCMP_SYS(setns),
        SCMP_SYS(pivot_root),  SCMP_SYS(chroot),           SCMP_SYS(kexec_load),
        SCMP_SYS(init_module), SCMP_SYS(finit_module),     SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd), SCMP_SYS(keyctl),           SCMP_SYS(add_key),
        SCMP_SYS(request_key)})
    if (rc == 0) rc = seccomp_rule_add(ctx, deny, sys, 0);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    *why = std::string("seccomp: ") + std::strerror(-rc);
    return false;
  }
  return true;
}

}  // namespace hearth::sandbox
