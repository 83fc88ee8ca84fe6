#!/usr/bin/env bash
# Prompt processing and generation speed of two hearth builds (before and
# after a kernel change) and, when given, llama.cpp's llama-bench and
# ik_llama.cpp's (run with `-rtr 1`, its row-interleaved repacking at load), on
# the same GGUF files, one program at a time in turn (A B [L] [I] A B [L] [I]
# ...), so that a machine whose speed drifts (shared, its bandwidth swinging)
# moves all of them alike. Each run's 1-minute load average is recorded beside
# its figures, before and after it.
#
#   HEARTH_A=path/to/hearth [HEARTH_B=path/to/other/hearth] [LLAMA_BENCH=path] \
#     [IK_BENCH=path/to/ik_llama.cpp/llama-bench] \
#     bench/kernels_side_by_side.sh OUT.jsonl MODEL.gguf...
#
# Env: ROUNDS (3), THREADS (2), PP (512), TG (128), NICE (-20: both programs
# alike; needs root, else 0). OUT.jsonl gets one line per run:
#   {"program", "model", "round", "load1", "load1_end", "pp", "tg",
#    "bandwidth_gbs", "tg_roofline", "pp_roofline", "int8_rate"}  (bandwidth,
#    rooflines and the int8 multiply-add rate: hearth builds that print them)
# and the medians per program, model and test are printed at the end
# (`bench/kernels_side_by_side.sh --summary OUT.jsonl` prints them again).
set -euo pipefail

summary() {
  jq -s -r '
    def median: map(select(. != null)) | sort | if length == 0 then null
      elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    group_by([.model, .program]) | .[] |
    "\(.[0].model | split("/") | last)\t\(.[0].program)\tpp \(map(.pp) | median)" +
    " [\(map(.pp) | map(tostring) | join(" "))]\ttg \(map(.tg) | median)" +
    " [\(map(.tg) | map(tostring) | join(" "))]\tload \(map(.load1) | map(tostring) | join(" "))" +
    "\tend \(map(.load1_end // empty) | map(tostring) | join(" "))" +
    "\tbw \(map(.bandwidth_gbs // empty) | map(tostring) | join(" "))" +
    "\tpp_roofline \(map(.pp_roofline // empty) | median)\ttg_roofline \(map(.tg_roofline // empty) | median)"
  ' "$1"
}

if [ "${1:-}" = "--summary" ]; then
  summary "${2:?usage: $0 --summary OUT.jsonl}"
  exit 0
fi

OUT=${1:?usage: HEARTH_A=... $0 OUT.jsonl MODEL.gguf...}
shift
[ $# -gt 0 ] || { echo "no models given" >&2; exit 1; }
: "${HEARTH_A:?set HEARTH_A to a hearth binary}"
ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-2} PP=${PP:-512} TG=${TG:-128} NICE=${NICE:--20}

load1() { cut -d' ' -f1 /proc/loadavg; }

# One hearth bench run as a JSON line.
run_hearth() {  # name binary model round
  local load out
  load=$(load1)
  out=$(nice -n "$NICE" "$2" bench "$3" -p "$PP" -n "$TG" -r 1 -t "$THREADS" --json)
  jq -c --arg p "$1" --arg m "$3" --argjson r "$4" --argjson l "$load" --argjson e "$(load1)" \
    '{program: $p, model: $m, round: $r, load1: $l, load1_end: $e, pp: .prompt_tokens_per_s,
      tg: .gen_tokens_per_s, bandwidth_gbs: .read_bandwidth_gbs, tg_roofline: .roofline_fraction,
      pp_roofline: .prompt_roofline_fraction, int8_rate: .int8_gmacs_per_s}' <<<"$out" >>"$OUT"
}

# One llama-bench run (pp and tg tests) as a JSON line.
run_llama() {  # name binary model round [extra llama-bench arguments]
  local load out name=$1 bin=$2 model=$3 round=$4
  shift 4
  load=$(load1)
  out=$(nice -n "$NICE" "$bin" -m "$model" -p "$PP" -n "$TG" -r 1 -t "$THREADS" "$@" -o json)
  jq -c --arg p "$name" --arg m "$model" --argjson r "$round" --argjson l "$load" \
    --argjson e "$(load1)" \
    '{program: $p, model: $m, round: $r, load1: $l, load1_end: $e,
      pp: (map(select(.n_gen == 0)) | .[0].avg_ts),
      tg: (map(select(.n_prompt == 0)) | .[0].avg_ts)}' <<<"$out" >>"$OUT"
}

for round in $(seq 1 "$ROUNDS"); do
  for model in "$@"; do
    echo "== round $round: $model (load $(load1))" >&2
    run_hearth A "$HEARTH_A" "$model" "$round"
    [ -z "${HEARTH_B:-}" ] || run_hearth B "$HEARTH_B" "$model" "$round"
    [ -z "${LLAMA_BENCH:-}" ] || run_llama llama-bench "$LLAMA_BENCH" "$model" "$round"
    [ -z "${IK_BENCH:-}" ] || run_llama ik-llama-bench "$IK_BENCH" "$model" "$round" -rtr 1
  done
done
summary "$OUT"
