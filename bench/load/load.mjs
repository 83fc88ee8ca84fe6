#!/usr/bin/env node
// Load test for `hearth serve`: a bounded number of concurrent loopback
// clients send valid and hostile requests, mixed, for a bounded time; the
// report gives requests served, statuses, latency percentiles, and the
// server's RSS and open file descriptors before and after (read from
// /proc/PID). Node 20, standard library only.
//
//   node bench/load/load.mjs --port 11434 --pid PID [--clients 32] [--seconds 30]
//       [--key KEY] [--json out.json]
//
// Each client loops: pick the next kind of request (round-robin over KINDS,
// offset by the client's number), send it on a fresh connection, read the
// whole answer, record status and latency. A request counts as "expected"
// when its status is the one the kind should get; anything else (including
// a network error) is listed. Streaming generations are cut off half-way by
// one kind ("hangup") to exercise disconnects mid-stream.

import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const port = Number(args.port ?? 11434);
const pid = Number(args.pid ?? 0);
const clients = Number(args.clients ?? 32);
const seconds = Number(args.seconds ?? 30);
const key = args.key ?? '';
const auth = key ? `Authorization: Bearer ${key}\r\n` : '';

function req(method, path, body = '', extra = '') {
  const len = body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '';
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}${extra}${len}Connection: close\r\n\r\n${body}`;
}
const gen = (n, stream) => JSON.stringify({ model: 'tiny-kjv', prompt: 'In the beginning', stream,
  options: { num_predict: n, temperature: 0 } });

// [name, raw request, expected status, hang up after this many bytes (0: read all)]
const KINDS = [
  ['tags', req('GET', '/api/tags'), 200, 0],
  ['generate', req('POST', '/api/generate', gen(8, false)), 200, 0],
  ['stream', req('POST', '/api/generate', gen(16, true)), 200, 0],
  ['hangup', req('POST', '/api/generate', gen(64, true)), 200, 300],
  ['show', req('POST', '/api/show', '{"model":"tiny-kjv"}'), 200, 0],
  ['health', req('GET', '/health'), 200, 0],
  ['bad-json', req('POST', '/api/chat', '{"model":"tiny-kjv","messages":[' + '['.repeat(5000)), 400, 0],
  ['dup-key', req('POST', '/api/generate', '{"model":"a","model":"b"}'), 400, 0],
  ['nan', req('POST', '/api/generate', '{"model":"tiny-kjv","options":{"temperature":NaN}}'), 400, 0],
  ['foreign-host', req('GET', '/api/tags').replace(`Host: 127.0.0.1:${port}`, 'Host: evil.example'), 403, 0],
  ['foreign-origin', req('POST', '/api/delete', '{"model":"tiny-kjv"}', 'Origin: http://evil.example\r\n'), 403, 0],
  ['smuggle', req('POST', '/api/show', '{"model":"tiny-kjv"}', 'Transfer-Encoding: chunked\r\n'), 400, 0],
  ['lying-length', `POST /api/show HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 99999999999\r\n\r\n{`, 413, 0],
  ['traversal', req('POST', '/api/show', '{"model":"../../etc/passwd"}'), 400, 0],
  ['unknown-model', req('POST', '/api/generate', '{"model":"nope","prompt":"x"}'), 404, 0],
];

function once([, raw, , hangup]) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      s.destroy();
      const text = got.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : (err ? `error:${err.code ?? err.message}` : 'closed'),
        ms: performance.now() - t0 });
    };
    s.setTimeout(60000, () => finish(new Error('timeout')));
    s.on('connect', () => s.write(raw));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (hangup && got.length >= hangup) finish();
    });
    s.on('end', () => finish());
    s.on('error', (e) => finish(e));
  });
}

function procStats() {
  if (!pid) return null;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
  return { rss_bytes: rss, open_fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: Number(/Threads:\s+(\d+)/.exec(status)[1]) };
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;

// Warm up (loads the model), then measure.
await once(KINDS[1]);
const before = procStats();
const deadline = performance.now() + seconds * 1000;
const results = [];
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  for (let i = c; performance.now() < deadline; ++i) {
    const kind = KINDS[i % KINDS.length];
    const r = await once(kind);
    results.push({ kind: kind[0], expected: kind[2], ...r });
  }
}));
await new Promise((r) => setTimeout(r, 1000));  // let the server finish cancelled work
const after = procStats();

const byKind = {};
for (const r of results) {
  const k = (byKind[r.kind] ??= { n: 0, statuses: {}, ms: [] });
  k.n++;
  k.statuses[r.status] = (k.statuses[r.status] ?? 0) + 1;
  k.ms.push(r.ms);
}
const all = results.map((r) => r.ms).sort((a, b) => a - b);
const unexpected = results.filter((r) => r.status !== r.expected);
const report = {
  clients, seconds, requests: results.length,
  requests_per_s: +(results.length / seconds).toFixed(1),
  p50_ms: +pct(all, 0.5).toFixed(1), p99_ms: +pct(all, 0.99).toFixed(1),
  unexpected: unexpected.length,
  unexpected_examples: unexpected.slice(0, 5),
  server_before: before, server_after: after,
  kinds: Object.fromEntries(Object.entries(byKind).map(([k, v]) => {
    const ms = v.ms.sort((a, b) => a - b);
    return [k, { n: v.n, statuses: v.statuses, p50_ms: +pct(ms, 0.5).toFixed(1), p99_ms: +pct(ms, 0.99).toFixed(1) }];
  })),
};
const text = JSON.stringify(report, null, 2);
process.stdout.write(text + '\n');
if (args.json) writeFileSync(args.json, text + '\n');
process.exit(unexpected.length ? 1 : 0);
