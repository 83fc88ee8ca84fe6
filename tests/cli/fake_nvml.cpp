// A stand-in for the NVIDIA driver's libnvidia-ml.so.1, with the entry points
// and layouts of nvml.h that hearth uses: one GPU, "Fake GPU", 80 GiB of
// which 1 GiB in use, 37% busy. Loaded by `hearth serve` through HEARTH_NVML
// in tests/cli/metrics_test.cpp (machines running the tests have no GPU).
#include <cstring>

extern "C" {
struct FakeMemory {
  unsigned long long total, free, used;
};
struct FakeUtilization {
  unsigned int gpu, memory;
};
int nvmlInit_v2() { return 0; }
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 1;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void** d) {
  if (i != 0) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  static int device;
  *d = &device;
  return 0;
}
int nvmlDeviceGetName(void*, char* name, unsigned int len) {
  std::strncpy(name, "Fake GPU", len);
  return 0;
}
int nvmlDeviceGetMemoryInfo(void*, FakeMemory* m) {
  m->total = 80ull << 30;
  m->used = 1ull << 30;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(void*, FakeUtilization* u) {
  u->gpu = 37;
  u->memory = 5;
  return 0;
}
}
