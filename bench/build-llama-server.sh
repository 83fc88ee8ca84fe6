#!/usr/bin/env bash
# Build llama.cpp's llama-server OUTSIDE this repository, as the peer for
# bench/serve_bench.mjs. Nothing of llama.cpp is ever copied into hearth.
#
#   bench/build-llama-server.sh GIT_DIR [DEST]
#
# GIT_DIR: a bare git directory holding a llama.cpp snapshot (in this
#          workplace: what the `fetch` tool returns for
#          github:kainlan/llama.cpp-intel-optimizations, e.g.
#          /work/.mirror/kainlan+llama.cpp-intel-optimizations/repo).
#          A normal clone's .git directory works too.
# DEST:    where to export and build (default /tmp/llama.cpp).
#
# Snapshots may lack some blobs (large vocab .gguf files, SYCL sources); those
# paths are left out of the export, since a CPU build of llama-server needs
# none of them. Result: DEST/build/bin/llama-server.
set -euo pipefail

GIT_DIR=${1:?usage: $0 GIT_DIR [DEST]}
DEST=${2:-/tmp/llama.cpp}
JOBS=${JOBS:-2}

case "$(realpath -m "$DEST")/" in
  "$(realpath -m "$(dirname "$0")/..")/"*) echo "refusing to build inside the hearth repo" >&2; exit 1 ;;
esac

mkdir -p "$DEST"
echo "== exporting $(git --git-dir="$GIT_DIR" rev-parse HEAD) to $DEST"

# git archive (2.39) ignores ':(exclude)' pathspecs and stops at the first
# absent blob, so list the paths whose blobs are present and archive those,
# in chunks (literal pathspecs, NUL-separated names).
export GIT_DIR GIT_LITERAL_PATHSPECS=1
git ls-tree -r -z HEAD | while IFS= read -r -d '' entry; do
  meta=${entry%%$'\t'*}; path=${entry#*$'\t'}
  read -r _mode type sha <<<"$meta"
  [ "$type" = blob ] || continue
  printf '%s %s\0' "$sha" "$path"
done > "$DEST/.entries"
present=0 absent=0
: > "$DEST/.paths"
while IFS= read -r -d '' line; do
  sha=${line%% *}; path=${line#* }
  if git cat-file -e "$sha" 2>/dev/null; then
    printf '%s\0' "$path" >> "$DEST/.paths"; present=$((present + 1))
  else
    echo "   (leaving out $path: blob absent from snapshot)"; absent=$((absent + 1))
  fi
done < "$DEST/.entries"
echo "   $present files exported, $absent left out"
xargs -0 -n 500 sh -c 'git archive HEAD -- "$@" | tar -x -C "$0"' "$DEST" < "$DEST/.paths"
rm -f "$DEST/.entries" "$DEST/.paths"
unset GIT_DIR GIT_LITERAL_PATHSPECS

# This machine kind has AMX; with AMX compiled in (GGML_NATIVE=ON turns it on
# here) llama.cpp crashed in ggml_backend_amx_mul_mat on the first Q4_0 prompt
# (docs/performance.md, Method). Turn it off after -march=native, as the
# anchor figures were made. LLAMA_KEEP_AMX=1 keeps it.
if [ "${LLAMA_KEEP_AMX:-0}" != 1 ]; then
  sed -i 's/list(APPEND ARCH_FLAGS -march=native)/list(APPEND ARCH_FLAGS -march=native -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)/' \
    "$DEST/ggml/src/ggml-cpu/CMakeLists.txt"
  grep -q 'march=native -mno-amx-tile' "$DEST/ggml/src/ggml-cpu/CMakeLists.txt" \
    || { echo "could not turn AMX off in ggml-cpu/CMakeLists.txt" >&2; exit 1; }
fi

cd "$DEST"
cmake -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON
cmake --build build -j"$JOBS" --target llama-server
ls -l build/bin/llama-server
