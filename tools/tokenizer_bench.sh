#!/bin/sh
# Tokenizer speed on the King James Bible (~4.4 MB of English), SPM and BPE.
# Usage: tools/tokenizer_bench.sh [BUILD_DIR]   (needs Debian's bible-kjv: scripts/setup.sh)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
text=$(mktemp /tmp/hearth-kjv.XXXXXX)
trap 'rm -f "$text"' EXIT
bible -f Genesis1:1-Revelation22:21 > "$text"
for v in llama-spm gpt-2; do
  printf '%-10s ' "$v"
  "$build/hearth" tokenize "$root/tests/data/vocab/ggml-vocab-$v.gguf" -f "$text" --bench
done
