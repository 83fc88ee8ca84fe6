// What the machine we run on has: the CPU's name, memory, free disk, this
// process's resource use, and NVIDIA GPUs. Linux only (/proc, statvfs).
//
// GPUs come from NVML, the NVIDIA driver's management library, loaded at run
// time with dlopen: hearth neither links against it nor needs it, and a
// machine without the driver simply has no GPUs here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hearth::sysinfo {

// /proc/cpuinfo's "model name" of the first CPU ("" when it says none).
std::string cpu_model();

// Bytes, from /proc/meminfo.
struct Memory {
  uint64_t total = 0;
  uint64_t available = 0;  // MemAvailable: what can be had without swapping
};
Memory memory();

// Bytes of the file system holding `path` (or its nearest existing parent:
// a store not created yet); nullopt when none can be examined.
struct Disk {
  uint64_t total = 0;
  uint64_t available = 0;  // to an unprivileged user (f_bavail)
};
std::optional<Disk> disk(const std::string& path);

// This process, from /proc/self.
struct Process {
  uint64_t resident_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
};
Process process();

struct Gpu {
  int index = 0;
  std::string name;
  uint64_t memory_total = 0;  // bytes
  uint64_t memory_used = 0;   // bytes
  double utilization = 0;     // 0..1: the share of the last sample period a kernel ran
};
// Every GPU NVML reports; empty without libnvidia-ml.so.1 (or the library
// the environment variable HEARTH_NVML names) or without a GPU.
// NVML is loaded and initialised once, on first call. Thread-safe.
std::vector<Gpu> gpus();

}  // namespace hearth::sysinfo
