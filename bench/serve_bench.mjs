#!/usr/bin/env node
// Concurrent streaming clients against an Ollama-API server (hearth serve) or
// llama.cpp's llama-server: aggregate generated tokens/s and time to first
// token at several client counts. Node 20, standard library only.
//
//   node bench/serve_bench.mjs --url http://127.0.0.1:11434 --api ollama \
//       --model /tmp/tl-q4_0.gguf --clients 1,4,8 --requests 2 --predict 256 \
//       --prompt-tokens 40 [--json out.json] [--label hearth]
//
// A round at N clients starts N clients at once; each sends --requests
// requests one after another and reads each stream to its end. Aggregate
// tok/s = generated tokens of the whole round / wall time of the round (first
// send to last stream end). TTFT = send to the first chunk carrying text.
// Anything that is not a clean 200 stream ending in its final object counts
// as an error (HTTP status, error object, malformed line, stream cut short,
// network failure); the driver never stops on one.
//
// Prompts: client c, request r gets "Note c.r:" followed by a fixed English
// passage cut to about --prompt-tokens tokens (Llama-2 SPM: about 1.3 tokens
// per word), so no two requests of a round share a prompt and a response
// cache cannot answer them. Greedy (temperature 0), seed 1 as the brief asks;
// start hearth with --response-cache 0 so that repeated rounds are not
// replayed either.

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';

const PASSAGE = ('The old lighthouse keeper climbed the narrow stairs every ' +
  'evening at dusk, carrying a lamp, a notebook and a small flask of tea. ' +
  'From the gallery he watched the fishing boats come home across the grey ' +
  'water, counted them, and wrote down the wind, the tide and the colour of ' +
  'the sky before he lit the great lamp for the night and settled down to ' +
  'wait for morning.').split(' ');

function usage(msg) {
  if (msg) process.stderr.write(`serve_bench: ${msg}\n`);
  process.stderr.write('usage: node bench/serve_bench.mjs --url URL --api ollama|llamacpp ' +
    '[--model NAME] [--clients 1,4,8] [--requests 2] [--predict 256] [--prompt-tokens 40] ' +
    '[--warmup 1] [--timeout 1800] [--label TEXT] [--json FILE]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { url: '', api: '', model: '', clients: [1, 4, 8], requests: 2, predict: 256,
    promptTokens: 40, warmup: 1, timeout: 1800, label: '', json: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) usage(`${k} needs a value`); return argv[++i]; };
    switch (k) {
      case '--url': o.url = v().replace(/\/+$/, ''); break;
      case '--api': o.api = v(); break;
      case '--model': o.model = v(); break;
      case '--clients': o.clients = v().split(',').map(Number); break;
      case '--requests': o.requests = Number(v()); break;
      case '--predict': o.predict = Number(v()); break;
      case '--prompt-tokens': o.promptTokens = Number(v()); break;
      case '--warmup': o.warmup = Number(v()); break;
      case '--timeout': o.timeout = Number(v()); break;
      case '--label': o.label = v(); break;
      case '--json': o.json = v(); break;
      case '-h': case '--help': usage();
      default: usage(`unknown argument ${k}`);
    }
  }
  if (!o.url) usage('--url is required');
  if (o.api !== 'ollama' && o.api !== 'llamacpp') usage('--api must be ollama or llamacpp');
  if (o.api === 'ollama' && !o.model) usage('--model is required for --api ollama');
  for (const n of [...o.clients, o.requests, o.predict, o.promptTokens, o.timeout])
    if (!Number.isInteger(n) || n < 1) usage('counts must be positive integers');
  if (!o.label) o.label = o.api === 'ollama' ? 'hearth' : 'llama-server';
  return o;
}

// "Note c.r:" + passage words. With the Llama-2 SPM vocabulary the passage
// costs ~1.36 tokens per word and BOS + tag 7 (digits are single tokens):
// --prompt-tokens 40 gives 24 words, 40 tokens (`hearth tokenize`).
function promptFor(client, request, promptTokens) {
  const words = Math.max(1, Math.round((promptTokens - 7) / 1.36));
  const body = [];
  for (let i = 0; i < words; i++) body.push(PASSAGE[i % PASSAGE.length]);
  return `Note ${client + 1}.${request + 1}: ${body.join(' ')}`;
}

function requestFor(o, prompt, predict) {
  if (o.api === 'ollama') {
    return { path: '/api/generate', body: { model: o.model, prompt, raw: true, stream: true,
      options: { temperature: 0, num_predict: predict, seed: 1 } } };
  }
  return { path: '/completion', body: { prompt, n_predict: predict, temperature: 0,
    stream: true, cache_prompt: true } };
}

// Reads a streamed body line by line. Ollama: NDJSON objects. llama.cpp: SSE,
// "data: {...}" lines (other SSE fields and blank lines are skipped).
async function* lines(body) {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      yield line;
    }
  }
  buf += dec.decode();
  if (buf.length) yield buf;
}

// One streamed request. Never throws: every failure is recorded in `errors`.
async function runRequest(o, prompt, predict) {
  const { path, body } = requestFor(o, prompt, predict);
  const r = { ok: false, status: 0, ttft_ms: null, tokens: 0, chunks: 0, prompt_tokens: null,
    ms: 0, errors: [], done_reason: null };
  const t0 = performance.now();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), o.timeout * 1000);
  let finalSeen = false;
  try {
    const res = await fetch(o.url + path, { method: 'POST', signal: ac.signal,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    r.status = res.status;
    if (res.status !== 200) {
      const text = await res.text().catch(() => '');
      r.errors.push(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    } else {
      for await (const raw of lines(res.body)) {
        let line = raw.trim();
        if (!line) continue;
        if (o.api === 'llamacpp') {
          if (line.startsWith('error:')) {  // llama-server's mid-stream error event
            r.errors.push(`error line: ${line.slice(6).trim().slice(0, 200)}`);
            continue;
          }
          if (!line.startsWith('data:')) {
            if (/^(event|id|retry):/.test(line) || line.startsWith(':')) continue;
            r.errors.push(`malformed SSE line: ${line.slice(0, 200)}`);
            continue;
          }
          line = line.slice(5).trim();
          if (line === '[DONE]') continue;
        }
        let j;
        try { j = JSON.parse(line); } catch {
          r.errors.push(`malformed JSON line: ${line.slice(0, 200)}`);
          continue;
        }
        if (j === null || typeof j !== 'object' || Array.isArray(j)) {
          r.errors.push(`unexpected line: ${line.slice(0, 200)}`);
          continue;
        }
        if (j.error !== undefined) {
          r.errors.push(`error line: ${JSON.stringify(j.error).slice(0, 200)}`);
          continue;
        }
        const text = o.api === 'ollama' ? j.response : j.content;
        if (typeof text === 'string' && text.length > 0) {
          r.chunks++;
          if (r.ttft_ms === null) r.ttft_ms = performance.now() - t0;
        }
        const isFinal = o.api === 'ollama' ? j.done === true : j.stop === true;
        if (isFinal) {
          finalSeen = true;
          if (o.api === 'ollama') {
            r.tokens = Number.isInteger(j.eval_count) ? j.eval_count : r.chunks;
            r.prompt_tokens = j.prompt_eval_count ?? null;
            r.done_reason = j.done_reason ?? null;
          } else {
            const t = j.timings || {};
            r.tokens = Number.isInteger(t.predicted_n) ? t.predicted_n
              : Number.isInteger(j.tokens_predicted) ? j.tokens_predicted : r.chunks;
            r.prompt_tokens = t.prompt_n ?? j.tokens_evaluated ?? null;
            r.done_reason = j.stop_type ?? null;
          }
        }
      }
      if (!finalSeen) r.errors.push('stream ended without its final object');
    }
  } catch (e) {
    r.errors.push(`request failed: ${e.name === 'AbortError' ? `timeout after ${o.timeout} s` : (e.cause?.message || e.message)}`);
  } finally {
    clearTimeout(timer);
  }
  // A stream cut short still generated what it sent: count its text chunks.
  if (!finalSeen) r.tokens = r.chunks;
  r.ms = performance.now() - t0;
  r.ok = r.errors.length === 0;
  return r;
}

function median(xs) {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runRound(o, clients) {
  const loadavg = os.loadavg();
  const t0 = performance.now();
  const perClient = await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const out = [];
    for (let q = 0; q < o.requests; q++) out.push(await runRequest(o, promptFor(c, q, o.promptTokens), o.predict));
    return out;
  }));
  const wall = (performance.now() - t0) / 1000;
  const reqs = perClient.flat();
  const tokens = reqs.reduce((a, r) => a + r.tokens, 0);
  const errors = reqs.reduce((a, r) => a + r.errors.length, 0);
  return {
    clients, requests: reqs.length, loadavg_before: loadavg.map((x) => +x.toFixed(2)),
    wall_s: +wall.toFixed(3), tokens, tok_s: +(tokens / wall).toFixed(3),
    ttft_median_ms: median(reqs.map((r) => r.ttft_ms)),
    ttft_ms: reqs.map((r) => (r.ttft_ms === null ? null : Math.round(r.ttft_ms))),
    failed_requests: reqs.filter((r) => !r.ok).length, errors,
    error_samples: reqs.flatMap((r) => r.errors).slice(0, 10),
    per_request: reqs.map((r) => ({ status: r.status, tokens: r.tokens, prompt_tokens: r.prompt_tokens,
      done_reason: r.done_reason, ttft_ms: r.ttft_ms === null ? null : Math.round(r.ttft_ms),
      ms: Math.round(r.ms), errors: r.errors.length })),
  };
}

const fmt = (x, d = 1) => (x === null ? '—' : x.toFixed(d));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date().toISOString();
  for (let i = 0; i < o.warmup; i++) {
    // Loads the model and touches the weights; not counted.
    const w = await runRequest(o, 'Warm up: the lighthouse keeper', 8);
    process.stderr.write(`warm-up: ${w.ok ? 'ok' : w.errors.join('; ')} (${Math.round(w.ms)} ms)\n`);
  }
  const rounds = [];
  for (const n of o.clients) {
    process.stderr.write(`${o.label}: ${n} client(s) x ${o.requests} request(s), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} ...\n`);
    const r = await runRound(o, n);
    rounds.push(r);
    process.stderr.write(`  ${r.tokens} tokens in ${r.wall_s} s = ${r.tok_s} tok/s, median TTFT ${fmt(r.ttft_median_ms, 0)} ms, ${r.failed_requests} failed request(s)\n`);
    for (const e of r.error_samples) process.stderr.write(`    error: ${e}\n`);
  }
  const summary = { label: o.label, api: o.api, url: o.url, model: o.model || null, started,
    requests_per_client: o.requests, predict: o.predict, prompt_tokens_target: o.promptTokens,
    host: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null }, rounds };
  console.log(`| ${o.label}: clients | aggregate tok/s | median TTFT (ms) | failed requests / requests | errors | load avg before |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of rounds)
    console.log(`| ${r.clients} | ${fmt(r.tok_s, 1)} | ${fmt(r.ttft_median_ms, 0)} | ${r.failed_requests} / ${r.requests} | ${r.errors} | ${r.loadavg_before.join(' ')} |`);
  const json = JSON.stringify(summary, null, 2);
  if (o.json) writeFileSync(o.json, json + '\n');
  else console.log(json);
}

main().catch((e) => { process.stderr.write(`serve_bench: ${e.stack || e}\n`); process.exit(1); });
