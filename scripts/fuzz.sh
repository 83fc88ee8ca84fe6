#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer (clang 14, ASan + UBSan) for SECONDS
# (default 60). Builds only the fuzz targets in build-fuzz/, writes the seed
# corpus to fuzz-corpus/gguf-seed, and keeps what the fuzzer finds in
# fuzz-corpus/gguf. Exits non-zero on a finding (crash, leak, timeout, OOM);
# the reproducer is left as fuzz-corpus/crash-* (or leak-*, timeout-*, oom-*).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHEARTH_FUZZ=ON -DHEARTH_TESTS=OFF -DHEARTH_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target gguf_reader_fuzz gguf_seed_corpus

mkdir -p fuzz-corpus/gguf
./build-fuzz/fuzz/gguf_seed_corpus fuzz-corpus/gguf-seed
./build-fuzz/fuzz/gguf_reader_fuzz fuzz-corpus/gguf fuzz-corpus/gguf-seed \
  -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=fuzz-corpus/ -print_final_stats=1
