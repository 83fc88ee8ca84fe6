#!/usr/bin/env node
// What structured output costs: generation speed with a JSON schema enforced
// (grammar masking at every step) against the same generation without one,
// on a real `hearth serve`, alternating the two kinds of request.
//
//   node bench/format_bench.mjs --model /tmp/tl-q4_0.gguf [--predict 128] [--reps 5]
//        [--bin build/hearth] [--threads 2]
//
// Each round sends one free request and one constrained request (Ollama's
// /api/generate, greedy, distinct prompts, the response cache off), in
// alternating order, and reads Ollama's eval_count / eval_duration: decode
// tokens per second with the prompt excluded. The schema is an object with a
// free string and a bounded array, so the model stays inside a value most of
// the time (the expensive case: a string admits most of the vocabulary).
// Prints the medians and their ratio (constrained / free).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../tests/lib/hearth_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const bin = args.bin || path.join(here, '..', 'build', 'hearth');
const model = args.model;
const predict = Number(args.predict || 128);
const reps = Number(args.reps || 5);
if (!model) {
  process.stderr.write('usage: node bench/format_bench.mjs --model GGUF [--predict 128] [--reps 5] [--bin B] [--threads T]\n');
  process.exit(2);
}

const SCHEMA = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 8 },
    notes: { type: 'string' },
  },
  required: ['title', 'tags', 'notes'],
};

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const extra = ['--response-cache', '0'];
if (args.threads) extra.push('--threads', args.threads);
// A GGUF file is imported (in place, no copy) into a store of the bench's own.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-format-bench-'));
let name = model;
if (model.endsWith('.gguf')) {
  name = 'bench-model';
  execFileSync(bin, ['import', name, path.resolve(model)], { env: { ...process.env, HEARTH_HOME: home } });
}
const server = await startServer(bin, { args: extra, timeoutMs: 300_000, env: { HEARTH_HOME: home } });
try {
  const run = async (i, format) => {
    const res = await fetch(`${server.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({
        model: name, stream: false, format,
        prompt: `Record ${i}: describe the harbour at dawn as JSON with a title, tags and notes.`,
        options: { temperature: 0, num_predict: predict, seed: 1 },
      }),
    });
    const r = await res.json();
    if (!res.ok) throw new Error(JSON.stringify(r));
    return { tps: r.eval_count / (r.eval_duration / 1e9), n: r.eval_count };
  };
  await run(-1);  // load the model
  const free = [], constrained = [], counts = [];
  for (let i = 0; i < reps; i++) {
    const order = i % 2 ? ['schema', 'free'] : ['free', 'schema'];
    for (const kind of order) {
      const r = await run(i, kind === 'schema' ? SCHEMA : undefined);
      (kind === 'schema' ? constrained : free).push(r.tps);
      if (kind === 'schema') counts.push(r.n);
    }
  }
  const f = median(free), c = median(constrained);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`model ${model}, ${predict} tokens, ${reps} alternated rounds, load ${load}`);
  console.log(`free:        ${f.toFixed(2)} tok/s (median; all ${free.map((x) => x.toFixed(1)).join(' ')})`);
  console.log(`with schema: ${c.toFixed(2)} tok/s (median; all ${constrained.map((x) => x.toFixed(1)).join(' ')}; tokens ${counts.join(' ')})`);
  console.log(`ratio: ${(c / f).toFixed(3)}`);
} finally {
  await server.stop();
  fs.rmSync(home, { recursive: true, force: true });
}
