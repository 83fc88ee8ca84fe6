// Starts a real `hearth serve` for the node tests (official clients, browser
// tests): a fresh HEARTH_HOME, a free loopback port, and the server killed at
// the end whether the tests pass or not (or if the test runner dies).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// How long the server may take to answer its first request (HEARTH_START_TIMEOUT_S overrides).
const START_TIMEOUT_MS = 1000 * Number(process.env.HEARTH_START_TIMEOUT_S || 60);

// A port nobody listens on: bind port 0, read what the kernel chose, close.
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Starts `bin serve` and resolves once GET /api/version answers; rejects with
// the server's output when it exits first or does not answer in time.
export async function startServer(bin, { timeoutMs = START_TIMEOUT_MS, args = [], env = {} } = {}) {
  const port = await freePort();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-test-'));
  const child = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', String(port), ...args], {
    env: { ...process.env, HEARTH_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);  // the tail is what explains a failure
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  // Should this process end before stop() (a crash, a signal from the runner or
  // ctest's timeout, the runner itself gone), take the server along.
  const reap = () => {
    child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    reap();
    process.exit(128 + os.constants.signals[signal]);
  };
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid !== parent) onSignal('SIGHUP');
  }, 500).unref();
  process.on('exit', reap);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, onSignal);
  child.on('error', (err) => {
    exited = { code: null, signal: null, error: err };
  });
  const server = {
    child, port, home, url: `http://127.0.0.1:${port}`, output: () => output,
    async stop() {
      process.off('exit', reap);
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.off(signal, onSignal);
      clearInterval(orphaned);
      if (exited === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(killer);
      }
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) {
      await server.stop();
      const how = exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`;
      throw new Error(`${bin} serve exited (${how}) before answering /api/version:\n${output}`);
    }
    try {
      const res = await fetch(`${server.url}/api/version`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${bin} serve did not answer /api/version within ${timeoutMs / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

