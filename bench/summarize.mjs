#!/usr/bin/env node
// Side-by-side table from serve_bench.mjs JSON files:
//   node bench/summarize.mjs /tmp/serve-bench/hearth-*.json /tmp/serve-bench/llama-*.json
// Files labelled "hearth" are one side, every other label the peer. Runs are
// paired in the order given (hearth-1 with llama-1, ...): the ratio column is
// the median of the pairs' ratios, the other columns medians over runs.

import { readFileSync } from 'node:fs';

const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x, d = 1) => (x === null ? '—' : x.toFixed(d));
const sec = (ms) => (ms === null ? null : ms / 1000);
const list = (xs, d = 1) => xs.map((x) => f(x, d)).join(' ');

const runs = process.argv.slice(2).map((p) => JSON.parse(readFileSync(p, 'utf8')));
const ours = runs.filter((r) => r.label === 'hearth');
const peer = runs.filter((r) => r.label !== 'hearth');
const counts = [...new Set(runs.flatMap((r) => r.rounds.map((x) => x.clients)))].sort((a, b) => a - b);
const round = (run, n) => run.rounds.find((x) => x.clients === n) || null;

console.log('| clients | hearth tok/s | llama-server tok/s | ratio | hearth TTFT (s) | llama TTFT (s) | failed requests hearth / llama | load avg (1 min) before hearth / llama rounds |');
console.log('|---|---|---|---|---|---|---|---|');
const one = {};
for (const n of counts) {
  const h = ours.map((r) => round(r, n)).filter(Boolean);
  const l = peer.map((r) => round(r, n)).filter(Boolean);
  const ratios = [];
  for (let i = 0; i < Math.min(ours.length, peer.length); i++) {
    const a = round(ours[i], n), b = round(peer[i], n);
    if (a && b && b.tok_s > 0) ratios.push(a.tok_s / b.tok_s);
  }
  const ht = median(h.map((x) => x.tok_s)), lt = median(l.map((x) => x.tok_s));
  one[n] = { ht, lt };
  const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0);
  console.log(`| ${n} | ${f(ht)} [${list(h.map((x) => x.tok_s))}] | ${f(lt)} [${list(l.map((x) => x.tok_s))}] | ` +
    `**${f(median(ratios), 2)}** [${list(ratios, 2)}] | ${f(sec(median(h.map((x) => x.ttft_median_ms))), 2)} | ` +
    `${f(sec(median(l.map((x) => x.ttft_median_ms))), 2)} | ${sum(h, 'failed_requests')}/${sum(h, 'requests')} / ` +
    `${sum(l, 'failed_requests')}/${sum(l, 'requests')} | ${list(h.map((x) => x.loadavg_before[0]))} / ${list(l.map((x) => x.loadavg_before[0]))} |`);
}
const base = counts[0];
for (const n of counts.slice(1)) {
  if (!one[base]?.ht || !one[base]?.lt) break;
  console.log(`\n${n} clients vs ${base}: hearth ${f(one[n].ht / one[base].ht, 2)}×, llama-server ${f(one[n].lt / one[base].lt, 2)}×`);
}
