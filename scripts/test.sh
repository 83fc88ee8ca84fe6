#!/usr/bin/env bash
# Newcomer's (and CI's) test command: install dependencies, build, run every test,
# then the unit tests and the hostile-input suite again under ASan+UBSan, then the
# fuzzers for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

bash scripts/setup.sh
bash scripts/build.sh
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600 | tee -a "$log"

echo "== unit tests and the hostile-input suite under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
  -DHEARTH_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target unit_tests hearth cli_security_test cli_hostile_store_test cli_tls_test
ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600 -L unit | tee -a "$log"
# The real server, sanitized, attacked over HTTP (tests/cli/security_test.cpp,
# hostile_store_test.cpp, tls_test.cpp). Leak checks are off for it: the server confines itself with
# seccomp, which denies the ptrace that LeakSanitizer needs at exit (the unit
# tests above run with leak checks).
ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600 --no-tests=error \
  -L integration -R '^(Exposure|Keys|KeysCli|KeysServe|Limits|Framing|Concurrency|HostileJson|HostilePrompts|HostileStore|Sandbox|Tls)\.' |
  tee -a "$log"

echo "== fuzzing the GGUF reader (libFuzzer, clang 14)"
bash scripts/fuzz.sh "${HEARTH_FUZZ_SECONDS:-60}"

# ctest stops the script above on any failure, so reaching here means all passed.
total=$(grep -oE 'tests failed out of [0-9]+' "$log" | awk '{s += $NF} END {print s + 0}')
echo "hearth: $total passed, 0 failed"
