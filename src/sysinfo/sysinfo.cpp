#include "sysinfo/sysinfo.h"

#include <dlfcn.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace hearth::sysinfo {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("model name")) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

Memory memory() {
  Memory m;
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);  // " kB"
    if (key == "MemTotal:") m.total = kib * 1024;
    if (key == "MemAvailable:") m.available = kib * 1024;
  }
  return m;
}

std::optional<Disk> disk(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) return std::nullopt;
  for (;;) {
    struct statvfs s {};
    if (::statvfs(p.c_str(), &s) == 0)
      return Disk{static_cast<uint64_t>(s.f_blocks) * s.f_frsize,
                  static_cast<uint64_t>(s.f_bavail) * s.f_frsize};
    if (!p.has_parent_path() || p.parent_path() == p) return std::nullopt;
    p = p.parent_path();
  }
}

Process process() {
  Process pr;
  const long page = ::sysconf(_SC_PAGESIZE);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  {
    std::ifstream in("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    if (in >> size >> resident) pr.resident_bytes = resident * static_cast<uint64_t>(page);
  }
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count
  // fields from the last ')'. Field 3 is the state; utime and stime are fields
  // 14 and 15, starttime (ticks after boot) field 22.
  const auto close = stat.rfind(')');
  if (close == std::string::npos || ticks <= 0) return pr;
  std::istringstream fields(stat.substr(close + 1));
  std::string f;
  uint64_t utime = 0, stime = 0, start = 0;
  for (int i = 3; i <= 22 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
    if (i == 22) start = std::stoull(f);
  }
  pr.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);
  std::ifstream boot("/proc/stat");
  for (std::string line; std::getline(boot, line);)
    if (line.starts_with("btime "))
      pr.start_time_seconds = std::stod(line.substr(6)) + static_cast<double>(start) / ticks;
  return pr;
}

namespace {

// The few NVML entry points used, as the driver's nvml.h declares them.
struct Nvml {
  using Device = void*;
  struct MemoryInfo {
    unsigned long long total, free, used;
  };
  struct Utilization {
    unsigned int gpu, memory;  // percent
  };
  int (*init)() = nullptr;
  int (*count)(unsigned int*) = nullptr;
  int (*handle)(unsigned int, Device*) = nullptr;
  int (*name)(Device, char*, unsigned int) = nullptr;
  int (*memory)(Device, MemoryInfo*) = nullptr;
  int (*utilization)(Device, Utilization*) = nullptr;
  bool ready = false;
};

template <class F>
bool bind(void* lib, const char* symbol, F& f) {
  f = reinterpret_cast<F>(::dlsym(lib, symbol));
  return f != nullptr;
}

const Nvml& nvml() {
  static Nvml n;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* path = std::getenv("HEARTH_NVML");  // a driver installed elsewhere
    void* lib = ::dlopen(path && *path ? path : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;  // no NVIDIA driver: no GPUs (the library stays loaded when present)
    n.ready = bind(lib, "nvmlInit_v2", n.init) && bind(lib, "nvmlDeviceGetCount_v2", n.count) &&
              bind(lib, "nvmlDeviceGetHandleByIndex_v2", n.handle) &&
              bind(lib, "nvmlDeviceGetName", n.name) &&
              bind(lib, "nvmlDeviceGetMemoryInfo", n.memory) &&
              bind(lib, "nvmlDeviceGetUtilizationRates", n.utilization) && n.init() == 0;
  });
  return n;
}

}  // namespace

std::vector<Gpu> gpus() {
  const Nvml& n = nvml();
  std::vector<Gpu> out;
  unsigned int count = 0;
  if (!n.ready || n.count(&count) != 0) return out;
  for (unsigned int i = 0; i < count && i < 64; ++i) {
    Nvml::Device d = nullptr;
    if (n.handle(i, &d) != 0) continue;
    Gpu g;
    g.index = static_cast<int>(i);
    char name[96] = {};
    if (n.name(d, name, sizeof name) == 0) g.name = name;
    Nvml::MemoryInfo mem{};
    if (n.memory(d, &mem) == 0) g.memory_total = mem.total, g.memory_used = mem.used;
    Nvml::Utilization u{};
    if (n.utilization(d, &u) == 0) g.utilization = u.gpu / 100.0;
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace hearth::sysinfo
