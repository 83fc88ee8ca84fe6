#!/usr/bin/env bash
# Newcomer's (and CI's) test command: install dependencies, build, run every test,
# then the unit tests again under ASan+UBSan, then the GGUF fuzzer for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/setup.sh
bash scripts/build.sh
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
  -DHEARTH_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="-O1" >/dev/null
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit

if [ -f fuzz/CMakeLists.txt ]; then
  echo "== fuzzing the GGUF reader (libFuzzer, clang 14)"
  bash scripts/fuzz.sh "${HEARTH_FUZZ_SECONDS:-60}"
fi
