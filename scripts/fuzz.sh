#!/usr/bin/env bash
# Fuzzes the parsers with libFuzzer (clang 14, ASan + UBSan): the GGUF reader for
# SECONDS (default 60), then the tokenizers and the chat-template interpreter for
# SECONDS/2 each, then the JSON-schema constraint (grammar/) for SECONDS/3
# (20 s by default), then the server's parsers (Ollama, OpenAI and Anthropic request bodies, paths,
# model names, Modelfiles, manifests) and the HTTP request path (parser, guard,
# JSON bodies) for SECONDS/3 each, two fuzzers at a time (about SECONDS * 5/3 of
# wall time). Each fuzzer's output goes to fuzz-corpus/logs/ and is printed at
# the end. Builds only the fuzz targets in build-fuzz/, writes the
# seed corpora to fuzz-corpus/*-seed and keeps what the fuzzers find in
# fuzz-corpus/{gguf,tokenizer,template,schema}. Exits non-zero on a finding (crash,
# leak, timeout, OOM); the reproducer is left as fuzz-corpus/crash-* (or leak-*,
# timeout-*, oom-*). Reproduce one with: build-fuzz/fuzz/<target> FILE
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
half=$(((seconds + 1) / 2))
third=$(((seconds + 2) / 3))

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHEARTH_FUZZ=ON -DHEARTH_TESTS=OFF -DHEARTH_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target gguf_reader_fuzz tokenizer_fuzz template_fuzz \
  schema_fuzz api_fuzz http_fuzz reply_fuzz gguf_seed_corpus text_seed_corpus

mkdir -p fuzz-corpus/gguf fuzz-corpus/tokenizer fuzz-corpus/template fuzz-corpus/schema \
  fuzz-corpus/api fuzz-corpus/api-seed fuzz-corpus/http fuzz-corpus/http-seed fuzz-corpus/reply fuzz-corpus/reply-seed
./build-fuzz/fuzz/gguf_seed_corpus fuzz-corpus/gguf-seed
./build-fuzz/fuzz/text_seed_corpus tokenizer fuzz-corpus/tokenizer-seed
./build-fuzz/fuzz/text_seed_corpus template fuzz-corpus/template-seed
./build-fuzz/fuzz/text_seed_corpus schema fuzz-corpus/schema-seed

# Seeds for the server's parsers: request bodies as Ollama documents them, a Modelfile.
printf '%s' '{"model":"tiny-kjv","prompt":"hi","options":{"temperature":0.5,"stop":["a"]},"keep_alive":"5m","format":{"type":"object"}}' >fuzz-corpus/api-seed/generate.json
printf '%s' '{"model":"m","messages":[{"role":"user","content":"x","images":[]}],"tools":[]}' >fuzz-corpus/api-seed/chat.json
printf '%s' '{"model":"m","from":"tiny-kjv","files":{"a.gguf":"sha256:00"},"parameters":{"stop":["x"]}}' >fuzz-corpus/api-seed/create.json
printf 'FROM tiny-kjv\nPARAMETER stop "[INST]"\nSYSTEM """be brief"""\nMESSAGE user hi\n' >fuzz-corpus/api-seed/Modelfile
# OpenAI's chat completion and Anthropic's message, with tools, as their SDKs send them.
printf '%s' '{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","logit_bias":{"7":-100},"stream":true,"stream_options":{"include_usage":true},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}}}' >fuzz-corpus/api-seed/openai-chat.json
printf '%s' '{"model":"m","max_tokens":64,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r"}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"},"thinking":{"type":"enabled","budget_tokens":1024}}' >fuzz-corpus/api-seed/anthropic-messages.json
printf '\x08\x03<think>why</think>ok <tool_call>\n{"name":"f","arguments":{"a":1}}\n</tool_call>' >fuzz-corpus/reply-seed/hermes
printf '\x0a\x05[TOOL_CALLS][{"name":"f","arguments":{}}]' >fuzz-corpus/reply-seed/mistral
printf '\x09\x02<|python_tag|>{"name":"f","parameters":{"x":"y"}}' >fuzz-corpus/reply-seed/llama3
printf '\x0c\x07<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>' >fuzz-corpus/reply-seed/tag
# Seeds for the HTTP request path: a keyed POST, a preflight, a rebinding attempt.
printf 'POST /api/chat HTTP/1.1\r\nHost: hearth.lan:11434\r\nAuthorization: Bearer hk_x\r\nContent-Length: 17\r\n\r\n{"model":"a","b":1}' >fuzz-corpus/http-seed/post
printf 'OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nOrigin: http://app.lan:3000\r\n\r\n' >fuzz-corpus/http-seed/preflight
printf 'GET //api/../tags?key=x HTTP/1.1\r\nHost: evil.example\r\nSec-Fetch-Site: cross-site\r\n\r\n' >fuzz-corpus/http-seed/rebind

common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix=fuzz-corpus/ -print_final_stats=1)
logs=fuzz-corpus/logs
mkdir -p "$logs"
rm -f "$logs"/*.status
run() {  # run TARGET CORPUS SECONDS EXTRA-ARGS...: one fuzzer, its output to $logs/TARGET.log
  local target="$1" corpus="$2" secs="$3"
  shift 3
  local result=ok
  "./build-fuzz/fuzz/$target" "fuzz-corpus/$corpus" "fuzz-corpus/$corpus-seed" \
    -max_total_time="$secs" "${common[@]}" "$@" >"$logs/$target.log" 2>&1 || result=failed
  echo "$result $secs" >"$logs/$target.status"
}
# Two lanes at once, each fuzzer one process: 100 s of wall time by default
# instead of 200, each fuzzer with a core to itself on a two-core machine.
{
  run gguf_reader_fuzz gguf "$seconds" -max_len=8192
  run schema_fuzz schema "$third" -max_len=4096 -dict=fuzz/schema.dict
  run reply_fuzz reply "$third" -max_len=4096
} &
{
  run tokenizer_fuzz tokenizer "$half" -max_len=1024
  run template_fuzz template "$half" -max_len=20000 -dict=fuzz/jinja.dict
  run api_fuzz api "$third" -max_len=4096
  run http_fuzz http "$third" -max_len=4096
} &
wait

status=0
for target in gguf_reader_fuzz tokenizer_fuzz template_fuzz schema_fuzz api_fuzz reply_fuzz http_fuzz; do
  read -r result secs <"$logs/$target.status" || result=missing
  echo "== $target for ${secs:-?} s"
  cat "$logs/$target.log"
  if [ "$result" != ok ]; then
    echo "!! $target found a problem: see fuzz-corpus/" >&2
    status=1
  fi
done
exit "$status"
