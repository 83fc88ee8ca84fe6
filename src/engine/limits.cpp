#include "engine/limits.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace hearth::engine {
namespace {

// A number from a file such as /sys/fs/cgroup/memory.max; 0 when absent or "max".
uint64_t read_number(const char* path) {
  std::ifstream in(path);
  uint64_t v = 0;
  return in >> v ? v : 0;
}

}  // namespace

void validate_num_predict(int64_t num_predict) {
  if (num_predict < -2)
    sampling::throw_param_error("num_predict", ">= -2 (-1: no limit, -2: fill the context)",
                                std::to_string(num_predict));
}

int64_t max_context(const model::Hparams& hp) {
  const int64_t train = hp.n_ctx_train > 0 ? hp.n_ctx_train : kDefaultTrainContext;
  return std::min(kMaxContext, train > kMaxContext / kMaxContextFactor ? kMaxContext
                                                                       : train * kMaxContextFactor);
}

uint64_t kv_cache_bytes(const model::Hparams& hp, int64_t n_ctx, backend::KvType kv) {
  const uint64_t values = 2 * static_cast<uint64_t>(std::max<int64_t>(hp.n_layer, 0)) *
                          static_cast<uint64_t>(std::max<int64_t>(n_ctx, 0)) *
                          static_cast<uint64_t>(std::max<int64_t>(hp.kv_dim(), 0));
  // f16: 2 bytes a value; q8_0: 34 bytes a block of 32.
  return kv == backend::KvType::F16 ? values * 2 : values / 32 * 34 + (values % 32 ? 34 : 0);
}

uint64_t available_memory() {
  uint64_t avail = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    uint64_t kib = 0;
    meminfo >> kib;
    if (key == "MemAvailable:") {
      avail = kib * 1024;
      break;
    }
    meminfo.ignore(1 << 10, '\n');
  }
  const uint64_t limit = read_number("/sys/fs/cgroup/memory.max");
  const uint64_t used = read_number("/sys/fs/cgroup/memory.current");
  if (limit > 0 && limit >= used) avail = avail ? std::min(avail, limit - used) : limit - used;
  return avail;
}

void validate_context_range(int64_t n_ctx) {
  if (n_ctx < kMinContext || n_ctx > kMaxContext)
    sampling::throw_param_error(
        "num_ctx", "between " + std::to_string(kMinContext) + " and " + std::to_string(kMaxContext),
        std::to_string(n_ctx));
}

void validate_context(const model::Hparams& hp, int64_t n_ctx, backend::KvType kv,
                      uint64_t extra_bytes_per_token) {
  const int64_t max = max_context(hp);
  if (n_ctx < kMinContext || n_ctx > max) {
    const std::string why = hp.n_ctx_train > 0 ? std::to_string(kMaxContextFactor) +
                                                     " x the model's training context of " +
                                                     std::to_string(hp.n_ctx_train)
                                               : "the model does not say its training context";
    sampling::throw_param_error(
        "num_ctx",
        "between " + std::to_string(kMinContext) + " and " + std::to_string(max) + " (" + why + ")",
        std::to_string(n_ctx));
  }
  // n_ctx <= kMaxContext and sizes of real models keep these products in range.
  const uint64_t need =
      kv_cache_bytes(hp, n_ctx, kv) + extra_bytes_per_token * static_cast<uint64_t>(n_ctx);
  const uint64_t avail = available_memory();
  if (avail > 0 && need > avail)
    throw ParamError("num_ctx", "num_ctx " + std::to_string(n_ctx) + " needs " + format_gib(need) +
                                    " of memory for its KV cache, but " + format_gib(avail) +
                                    " is available");
}

std::string format_gib(uint64_t bytes, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f GiB", std::clamp(decimals, 0, 9),
                static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

}  // namespace hearth::engine
