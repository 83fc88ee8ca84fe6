#!/usr/bin/env bash
# hearth on a CPU without AVX-512 (an emulated Haswell: AVX2, FMA, F16C), on
# any machine: QEMU's user-mode emulator runs the real binaries and stops at
# the first instruction the model lacks, so an AVX-512 instruction that
# leaked into the AVX2 or generic code (a compiler's auto-vectorization in the
# wrong file, a call to the wrong variant) fails here rather than on a user's
# laptop. Checks: the CPU is seen as AVX2; the kernel tests of the AVX2 tiles,
# quantizers and attention pass; and `hearth run` on Q4_0, Q8_0 and Q4_K_M
# (with Q6_K) copies of the bundled model, with a prompt long enough for the
# tiled attention, prints exactly what the same binary prints natively with
# its kernels capped at AVX2.
#   tests/avx2_only/run.sh HEARTH_BIN KERNELS_TEST_BIN
set -euo pipefail
hearth=${1:?usage: $0 HEARTH_BIN KERNELS_TEST_BIN}
kernels_test=${2:?usage: $0 HEARTH_BIN KERNELS_TEST_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
qemu=$(command -v qemu-x86_64 || true)
[ -n "$qemu" ] || { echo "qemu-x86_64 not found: scripts/setup.sh installs qemu-user" >&2; exit 1; }
emulate() { "$qemu" -cpu Haswell-v4 "$@" 2> >(grep -v "TCG doesn't support" >&2); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

doctor=$(emulate "$hearth" doctor)
grep -q "kernels: avx2" <<<"$doctor" || { echo "emulated Haswell not seen as AVX2:" >&2; echo "$doctor" >&2; exit 1; }

emulate "$kernels_test" --gtest_brief=1 \
  --gtest_filter='ActivationQuant.*:WeightMatrix.EachTokensOutputIsIndependentOfTheBatch:CpuBackend.Attention*'

prompt="In the beginning God created the heaven and the earth. And the earth was without form, and \
void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the \
waters. And God said, Let there be light: and there was light."
for type in q4_0 q8_0 q4_k_m; do
  "$hearth" quantize "$root/models/tiny-kjv-f16.gguf" "$work/$type.gguf" "$type" >/dev/null
  # </dev/null: `hearth run` with a prompt reads piped stdin first (as Ollama's
  # CLI), and a test runner's stdin may be a pipe that never closes.
  HEARTH_SIMD=avx2 "$hearth" run "$work/$type.gguf" "$prompt" -n 16 --temperature 0 \
    </dev/null >"$work/native.txt"
  emulate "$hearth" run "$work/$type.gguf" "$prompt" -n 16 --temperature 0 \
    </dev/null >"$work/emulated.txt"
  [ -s "$work/native.txt" ] || { echo "$type: no output" >&2; exit 1; }
  cmp "$work/native.txt" "$work/emulated.txt" || { echo "$type: emulated AVX2 output differs" >&2; exit 1; }
  echo "$type: the emulated Haswell prints the same $(wc -c <"$work/native.txt") bytes"
done
