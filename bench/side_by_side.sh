#!/usr/bin/env bash
# Alternates hearth serve and llama-server (hearth round, llama round, ...)
# REPS times on the same GGUF file, one server running at a time, then prints
# the side-by-side table of medians (bench/summarize.mjs).
#
#   bench/side_by_side.sh            # from the repo root, after building both
#
# Environment (defaults):
#   HEARTH=build/hearth  LLAMA_SERVER=/tmp/llama.cpp/build/bin/llama-server
#   MODEL=/tmp/tl-q4_0.gguf  REPS=3  CLIENTS=1,4,8  REQUESTS=2  PREDICT=256
#   THREADS=2  OUT=/tmp/serve-bench  NICE=-20 (priority of both servers and
#   the driver; the machine is shared)  ONLY= (hearth or llama: run one side)
set -euo pipefail
cd "$(dirname "$0")/.."

HEARTH=${HEARTH:-build/hearth}
LLAMA_SERVER=${LLAMA_SERVER:-/tmp/llama.cpp/build/bin/llama-server}
MODEL=${MODEL:-/tmp/tl-q4_0.gguf}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-1,4,8}
REQUESTS=${REQUESTS:-2}
PREDICT=${PREDICT:-256}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/serve-bench}
NICE=${NICE:--20}
ONLY=${ONLY:-}
HPORT=${HPORT:-18434}
LPORT=${LPORT:-18435}

mkdir -p "$OUT"
[ -f "$MODEL" ] || "$HEARTH" synth --shape tinyllama-1.1b --type q4_0 "$MODEL"

# hearth serves models by name from its store: a private store for the bench.
export HEARTH_HOME="$OUT/hearth-home"
"$HEARTH" list 2>/dev/null | grep -q '^bench-tl-q4_0' || "$HEARTH" import bench-tl-q4_0 "$MODEL"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
}
trap stop_server EXIT

wait_ready() {  # URL
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited during start-up" >&2; return 1; fi
    sleep 0.5
  done
  echo "server not ready after 300 s" >&2; return 1
}

drive() {  # LABEL API URL MODEL JSON
  echo "== $1 rep $rep: $(uptime)"
  nice -n "$NICE" node bench/serve_bench.mjs --label "$1" --api "$2" --url "$3" --model "$4" \
    --clients "$CLIENTS" --requests "$REQUESTS" --predict "$PREDICT" --prompt-tokens 40 --json "$5"
}

for rep in $(seq 1 "$REPS"); do
  if [ "$ONLY" != llama ]; then
    nice -n "$NICE" "$HEARTH" serve --port "$HPORT" --parallel 8 --ctx 1024 --threads "$THREADS" \
      --response-cache 0 > "$OUT/hearth-$rep.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$HPORT/api/version"
    drive hearth ollama "http://127.0.0.1:$HPORT" bench-tl-q4_0 "$OUT/hearth-$rep.json"
    stop_server
  fi
  if [ "$ONLY" != hearth ]; then
    nice -n "$NICE" "$LLAMA_SERVER" -m "$MODEL" -np 8 -c 8192 --port "$LPORT" -t "$THREADS" \
      > "$OUT/llama-$rep.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$LPORT/health"
    drive llama-server llamacpp "http://127.0.0.1:$LPORT" - "$OUT/llama-$rep.json"
    stop_server
  fi
done
echo "== done: $(uptime)"
node bench/summarize.mjs "$OUT"/hearth-*.json "$OUT"/llama-*.json | tee "$OUT/table.md"
