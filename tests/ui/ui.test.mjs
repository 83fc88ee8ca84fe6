// The web UI in a real browser: Debian's chromium driven by playwright-core
// against the real `hearth serve` and its bundled model. Run by ctest
// (HEARTH_BIN names the program, HEARTH_UI_ARTIFACTS where screenshots go) or
// by hand:
//   HEARTH_BIN=build/hearth node --test tests/ui/ui.test.mjs
// Every wait is bounded (WAIT_MS); a failure names what did not appear.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../lib/hearth_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const BIN = process.env.HEARTH_BIN || path.join(repo, 'build/hearth');
const ARTIFACTS = process.env.HEARTH_UI_ARTIFACTS || path.join(repo, 'build/tests/ui');
const CHROMIUM = process.env.HEARTH_CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 20_000;  // the longest any one wait may take
const PROMPT = 'In the beginning God created';

let server;
let browser;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // One thread per forward pass: a core stays free for the browser, whose
  // rendering must keep up with the stream for the streaming check.
  server = await startServer(BIN, { args: ['--threads', '1'] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    // Chromium's sandbox needs user namespaces, which root in a container lacks.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// A fresh browser context (its own storage) on `srv`'s page. Records every
// request that leaves for another origin, uncaught page errors and CSP
// violations; `beforeLoad` may install routes first.
async function openPage(srv, { viewport = { width: 1200, height: 800 }, beforeLoad } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(WAIT_MS);
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  const seen = { foreign: [], paths: [], errors: [] };
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return;
    if (u.origin !== srv.url) seen.foreign.push(r.url());
    else seen.paths.push(u.pathname);
  });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  if (beforeLoad) await beforeLoad(context, page);
  await page.goto(`${srv.url}/`);
  // Connected: the page knows where history is kept, or says what went wrong.
  await page.waitForFunction(() => document.getElementById('history-note').textContent !== '' ||
    !document.getElementById('banner').hidden);
  return { context, page, seen };
}

// What must hold for every page: nothing left for another host, no script
// error, no CSP violation (the page needs no inline script or style).
// `allowInline`: CSP refusals of inline code are expected (the sanitiser's
// parse of hostile text meets the policy before the handlers are removed).
async function assertClean(page, seen, { allowInline = false } = {}) {
  assert.deepEqual(seen.foreign, [], 'the page made requests to another host');
  assert.deepEqual(seen.errors, [], 'the page threw');
  let csp = await page.evaluate(() => window.__csp);
  if (allowInline) csp = csp.filter((v) => !/^(script-src-attr|script-src-elem|style-src-elem) inline$/.test(v));
  assert.deepEqual(csp, [], 'CSP violations');
}

async function waitForModel(page) {
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#model option')].some((o) => o.value.startsWith('tiny-kjv')));
}

// Sets numeric options through the settings panel (a change event commits each).
async function setOptions(page, options) {
  if (await page.isHidden('#settings')) await page.click('#toggle-settings');
  for (const [id, value] of Object.entries(options)) {
    await page.fill(`#${id}`, String(value));
    await page.press(`#${id}`, 'Tab');
  }
  await page.click('#toggle-settings');
}

async function conversationsOnServer(srv) {
  const res = await fetch(`${srv.url}/api/hearth/conversations`, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200);
  return res.json();
}

// An NDJSON /api/chat answer as the server streams it, for page.route.
function ndjsonAnswer(pieces, { eval_count = 10, eval_duration = 500_000_000 } = {}) {
  const created_at = new Date().toISOString();
  const lines = pieces.map((content) => JSON.stringify({
    model: 'tiny-kjv:latest', created_at, message: { role: 'assistant', content }, done: false }));
  lines.push(JSON.stringify({ model: 'tiny-kjv:latest', created_at,
    message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count, eval_duration }));
  return { status: 200, headers: { 'Content-Type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' };
}

test('GET / is the page for browsers and "Ollama is running" for programs; headers guard it', async () => {
  const plain = await fetch(`${server.url}/`);
  assert.equal(await plain.text(), 'Ollama is running');
  const page = await fetch(`${server.url}/`, { headers: { Accept: 'text/html,*/*;q=0.8' } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<script defer src="\/ui\/app.js"><\/script>/);
  for (const p of ['/ui/app.js', '/ui/app.css']) {
    const res = await fetch(`${server.url}${p}`);
    assert.equal(res.status, 200, p);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const etag = res.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await fetch(`${server.url}${p}`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304, `${p} with its ETag`);
  }
  assert.equal((await fetch(`${server.url}/ui/nothing.js`)).status, 404);
});

test('a message streams in, is kept by the server, survives a reload, exports, and is deleted', async () => {
  const { page, seen } = await openPage(server);
  await waitForModel(page);
  assert.match(await page.textContent('#history-note'), /kept by the server for 30 days after their last message/);
  // Sampled (greedy decoding is so fast that the whole answer can land between
  // two redraws), with a seed for a repeatable answer.
  await setOptions(page, { temperature: 0.8, num_predict: 200, seed: 1 });
  // Every state of the answer while it streams: its length and whether Stop shows.
  await page.evaluate(() => {
    window.__frames = [];
    new MutationObserver(() => {
      const body = document.querySelector('.msg.assistant.streaming .body');
      if (body) window.__frames.push({ length: body.textContent.length,
        stop: !document.getElementById('stop').hidden });
    }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
  await page.fill('#prompt', PROMPT);
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('.msg.assistant:not(.streaming) .stats:not(:empty)');

  const frames = await page.evaluate(() => window.__frames);
  const lengths = new Set(frames.filter((f) => f.length > 0).map((f) => f.length));
  assert.ok(lengths.size >= 2, `the answer should grow in steps, saw ${JSON.stringify(frames)}`);
  assert.ok(frames.every((f) => f.stop), 'Stop shows while the answer streams');
  assert.equal(await page.isHidden('#stop'), true);
  const stats = await page.textContent('.msg.assistant .stats');
  assert.match(stats, /^\d+ tokens · \d+\.\d tokens\/s$/);
  const answer = await page.textContent('.msg.assistant .body');
  const answerHtml = await page.innerHTML('.msg.assistant .body');
  assert.ok(answer.trim().length > 0, 'the model answered');
  assert.equal(await page.textContent('.msg.user .body'), PROMPT);

  const shot = path.join(ARTIFACTS, 'screenshot.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  const kept = await conversationsOnServer(server);
  assert.equal(kept.history, true);
  assert.equal(kept.conversations.length, 1);
  assert.equal(kept.conversations[0].title, PROMPT);
  assert.equal(kept.conversations[0].messages, 2);
  assert.equal(kept.conversations[0].model, 'tiny-kjv:latest');

  await page.reload();
  const item = page.locator('#conversations li', { hasText: PROMPT });
  await item.waitFor();
  assert.equal(await page.locator('.msg').count(), 0, 'a reload starts a new chat');
  await item.locator('button.open').click();
  await page.waitForSelector('.msg.assistant');
  assert.equal(await page.textContent('.msg.user .body'), PROMPT);
  assert.equal(await page.innerHTML('.msg.assistant .body'), answerHtml);
  assert.equal(await page.textContent('.msg.assistant .stats'), stats);
  assert.equal(await page.inputValue('#num_predict'), '200', 'the options come back with it');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.equal(exported.conversations.length, 1);
  const saved = await (await fetch(`${server.url}/api/hearth/conversations/${kept.conversations[0].id}`)).json();
  assert.deepEqual(exported.conversations[0], saved);
  assert.equal(saved.messages[1].content.trim(), answer.trim());

  await item.locator('button.delete').click();
  await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 0);
  assert.equal((await conversationsOnServer(server)).conversations.length, 0);
  await assertClean(page, seen);
});

test('Shift+Enter is a new line; Esc stops an answer, which is kept as stopped', async () => {
  const { page, seen } = await openPage(server);
  await waitForModel(page);
  await page.fill('#prompt', 'first line');
  await page.press('#prompt', 'Shift+Enter');
  assert.equal(await page.inputValue('#prompt'), 'first line\n');
  assert.equal(await page.locator('.msg').count(), 0, 'Shift+Enter sends nothing');

  await setOptions(page, { num_predict: 4000 });  // as long as the context allows
  await page.fill('#prompt', 'And the earth');
  await page.press('#prompt', 'Enter');
  await page.waitForFunction(() =>
    document.querySelector('.msg.assistant.streaming .body')?.textContent.length > 0, null, { polling: 20 });
  await page.keyboard.press('Escape');
  await page.waitForSelector('.msg.assistant:not(.streaming)');
  assert.match(await page.textContent('.msg.assistant .stats'), /stopped/);
  assert.equal(await page.isVisible('#send'), true);
  await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 1);
  const [row] = (await conversationsOnServer(server)).conversations;
  const doc = await (await fetch(`${server.url}/api/hearth/conversations/${row.id}`)).json();
  assert.equal(doc.messages[1].stopped, true);
  assert.equal(doc.options.num_predict, 4000);
  await assertClean(page, seen);
});

test('model output with HTML, script and remote images renders inert', async () => {
  const hostile = [
    'Here it is:\n\n<img src=x onerror="window.__pwned = \'img\'">\n\n',
    '<script>window.__pwned = "script"</script>\n\n',
    '[click me](javascript:window.__pwned=1) and ',
    '<a href="#" onclick="window.__pwned = \'a\'">this</a>\n\n',
    '![tracker](http://tracker.example/pixel.png)\n\n',
    '<svg><animate onbegin="window.__pwned = \'svg\'" attributeName="x" dur="1s"/></svg>\n\n',
    '<iframe src="http://frame.example/"></iframe><style>body{display:none}</style>\n\n',
    '```js\nconst answer = 42;\n```\n',
  ];
  const { page, seen } = await openPage(server, {
    beforeLoad: (context) => context.route('**/api/chat', (route) => route.fulfill(ndjsonAnswer(hostile))),
  });
  await waitForModel(page);
  await page.fill('#prompt', '<b>not bold</b>');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('.msg.assistant:not(.streaming) .stats:not(:empty)');
  await page.waitForTimeout(500);  // time for an image's error event, had one been made

  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script of the answer ran');
  const inside = (sel) => page.locator(`#messages ${sel}`).count();
  assert.equal(await inside('img'), 0);
  assert.equal(await inside('script'), 0);
  assert.equal(await inside('svg'), 0);
  assert.equal(await inside('iframe'), 0);
  assert.equal(await inside('style'), 0);
  assert.equal(await page.locator('[onerror], [onclick], [onbegin]').count(), 0);
  assert.equal(await inside('a[href^="javascript:"]'), 0);
  assert.ok(!seen.paths.includes('/x'), 'the <img src=x> was never fetched');
  const text = await page.textContent('.msg.assistant .body');
  assert.match(text, /\[image: tracker\]/);
  assert.match(text, /click me/);
  assert.equal(await page.isVisible('body'), true);
  // The code block is highlighted, the user's own HTML shown as text.
  assert.ok(await inside('pre code.hljs .hljs-keyword') >= 1, 'code is highlighted');
  assert.equal(await page.textContent('.msg.user .body'), '<b>not bold</b>');
  assert.equal(await inside('.msg.user b'), 0);
  assert.equal(await page.textContent('.msg.assistant .stats'), '10 tokens · 20.0 tokens/s');
  await assertClean(page, seen, { allowInline: true });
  // The conversation was kept like any other: clean up for the tests after this one.
  await fetch(`${server.url}/api/hearth/conversations`, { method: 'DELETE' });
});

test('a 401 asks for an API key, which is then sent as a Bearer token', async () => {
  const auth = [];
  const { page, seen } = await openPage(server, {
    beforeLoad: (context) => context.route('**/api/**', (route, req) => {
      auth.push(req.headers().authorization);
      if (req.headers().authorization !== 'Bearer sekrit')
        return route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":"unauthorized"}' });
      return route.fallback();
    }),
  });
  assert.match(await page.textContent('#banner'), /needs an API key/);
  assert.equal(await page.isVisible('#settings'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key');
  await page.fill('#api-key', 'sekrit');
  await page.press('#api-key', 'Tab');
  await waitForModel(page);
  await page.waitForSelector('#banner', { state: 'hidden' });
  assert.equal(auth.at(-1), 'Bearer sekrit');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hearth.apiKey')), 'sekrit');
  assert.equal(await page.evaluate(() => localStorage.getItem('hearth.apiKey')), null,
    'kept for the session only unless asked to remember');
  await assertClean(page, seen);
});

test('with API keys on, the page loads, asks for a key, and chats with it', async () => {
  const { spawnSync } = await import('node:child_process');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-ui-keys-'));
  let keyed;
  try {
    // The key is made once the server answers (the launcher's probe has no
    // key); the server asks for keys from the next request on.
    keyed = await startServer(BIN, { env: { HEARTH_HOME: home } });
    const made = spawnSync(BIN, ['keys', 'create', 'browser'],
      { encoding: 'utf8', timeout: WAIT_MS, env: { ...process.env, HEARTH_HOME: home } });
    assert.equal(made.status, 0, made.stderr);
    const key = made.stdout.trim().split('\n').at(-1);
    const { page, seen } = await openPage(keyed);
    // The page and its files are public; the conversations and the models are not.
    assert.match(await page.textContent('#banner'), /needs an API key/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key');
    await page.fill('#api-key', key);
    await page.press('#api-key', 'Tab');
    await waitForModel(page);
    await page.waitForSelector('#banner', { state: 'hidden' });
    await setOptions(page, { num_predict: 8 });
    await page.fill('#prompt', 'And God said');
    await page.press('#prompt', 'Enter');
    await page.waitForSelector('.msg.assistant:not(.streaming) .stats:not(:empty)');
    assert.match(await page.textContent('.msg.assistant .stats'), /tokens\/s/);
    await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 1);
    const anonymous = await fetch(`${keyed.url}/api/hearth/conversations`);
    assert.equal(anonymous.status, 401);
    const listed = await fetch(`${keyed.url}/api/hearth/conversations`,
      { headers: { Authorization: `Bearer ${key}` } });
    assert.equal((await listed.json()).conversations.length, 1);
    await assertClean(page, seen);
  } finally {
    await keyed?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('--no-history: the page keeps conversations in the browser and says so', async () => {
  const bare = await startServer(BIN, { args: ['--no-history'] });
  try {
    const { page, seen } = await openPage(bare, {
      beforeLoad: (context) =>
        context.route('**/api/chat', (route) => route.fulfill(ndjsonAnswer(['kept ', 'locally']))),
    });
    assert.match(await page.textContent('#history-note'), /keeps no history/);
    await waitForModel(page);
    await page.fill('#prompt', 'remember me');
    await page.press('#prompt', 'Enter');
    await page.waitForSelector('.msg.assistant:not(.streaming) .stats:not(:empty)');
    await page.reload();
    const item = page.locator('#conversations li', { hasText: 'remember me' });
    await item.waitFor();
    await item.locator('button.open').click();
    await page.waitForSelector('.msg.assistant');
    assert.equal(await page.innerHTML('.msg.assistant .body'), '<p>kept locally</p>\n');

    const listed = await conversationsOnServer(bare);
    assert.deepEqual(listed, { history: false, conversations: [] });
    const put = await fetch(`${bare.url}/api/hearth/conversations/abcdefgh-1`, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 404);
    assert.equal(fs.existsSync(path.join(bare.home, 'history.db')), false, 'no file on the server');

    page.once('dialog', (d) => d.accept());
    await page.click('#delete-all');
    await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 0);
    await page.reload();
    await page.waitForSelector('#conversations li', { state: 'detached' });
    assert.equal(await page.locator('#conversations li').count(), 0);
    await assertClean(page, seen);
  } finally {
    await bare.stop();
  }
});

test('on a phone-sized screen the list slides in and nothing overflows', async () => {
  const { page, seen } = await openPage(server, { viewport: { width: 390, height: 844 } });
  await waitForModel(page);
  const hidden = await page.locator('#sidebar').boundingBox();
  assert.ok(hidden.x + hidden.width <= 0, `the list is off screen (x ${hidden.x})`);
  await page.click('#toggle-sidebar');
  await page.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().x >= 0);
  await page.click('#new-chat');
  await page.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().right <= 0);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways scroll');
  const composer = await page.locator('#composer').boundingBox();
  assert.ok(composer.y + composer.height <= 844 && composer.x + composer.width <= 390, 'the composer is in view');
  const shot = path.join(ARTIFACTS, 'screenshot-phone.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
  await assertClean(page, seen);
});

test('what was typed is kept before the answer comes, its title cut on whole characters', async () => {
  const { page, seen } = await openPage(server);
  await waitForModel(page);
  // The answer never comes: the page is reloaded while it waits for it.
  await page.route('**/api/chat', () => {});
  // An emoji across the 80th UTF-16 unit: cut there, the title would be half
  // a character, which no JSON parser takes.
  const prompt = `${'a'.repeat(79)}\u{1F642} and more`;
  await page.fill('#prompt', prompt);
  await page.press('#prompt', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 1);
  const [row] = (await conversationsOnServer(server)).conversations;
  assert.equal(row.title, `${'a'.repeat(79)}\u{1F642}`);
  assert.equal(row.messages, 1, 'the user message is kept before the answer');
  await page.unroute('**/api/chat');
  await page.reload();
  const item = page.locator('#conversations li', { hasText: 'aaaa' });
  await item.waitFor();
  await item.locator('button.open').click();
  await page.waitForSelector('.msg.user');
  assert.equal(await page.textContent('.msg.user .body'), prompt);
  await item.locator('button.delete').click();
  await page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 0);
  await assertClean(page, seen);
});

test('a replayed answer says so instead of an absurd speed, also after a reload', async (t) => {
  t.after(() => fetch(`${server.url}/api/hearth/conversations`, { method: 'DELETE' }));
  const replay = (context) => context.route('**/api/chat', (route) => {
    const r = ndjsonAnswer(['Amen.'], { eval_count: 20, eval_duration: 116_000 });
    r.headers['X-Hearth-Cache'] = 'hit';
    return route.fulfill(r);
  });
  const { page, seen } = await openPage(server, { beforeLoad: replay });
  await waitForModel(page);
  await page.fill('#prompt', 'REPLAYED once more');
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('.msg.assistant:not(.streaming) .stats:not(:empty)');
  assert.equal(await page.textContent('.msg.assistant .stats'), '20 tokens · repeated from cache');
  await page.reload();
  const item = page.locator('#conversations li', { hasText: 'REPLAYED' });
  await item.waitFor();
  await item.locator('button.open').click();
  await page.waitForSelector('.msg.assistant');
  assert.equal(await page.textContent('.msg.assistant .stats'), '20 tokens · repeated from cache');
  await assertClean(page, seen);
});

test('two tabs on one conversation keep both their turns', async (t) => {
  // Whatever happens here, the tests after it start from no conversations.
  t.after(() => fetch(`${server.url}/api/hearth/conversations`, { method: 'DELETE' }));
  const answer = (context) => context.route('**/api/chat', (route) => route.fulfill(ndjsonAnswer(['Amen.'])));
  const a = await openPage(server, { beforeLoad: answer });
  const b = await openPage(server, { beforeLoad: answer });
  await waitForModel(a.page);
  await waitForModel(b.page);
  const say = async (page, text, count) => {
    await page.fill('#prompt', text);
    await page.press('#prompt', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant:not(.streaming)').length === n, count);
  };
  await say(a.page, 'TWO-TABS first', 1);
  await b.page.reload();
  const item = b.page.locator('#conversations li', { hasText: 'TWO-TABS first' });
  await item.waitFor();
  await item.locator('button.open').click();
  await b.page.waitForSelector('.msg.assistant');
  await say(a.page, 'TAB-A second', 2);
  await say(b.page, 'TAB-B second', 3);  // tab A's two answers, merged in, and its own
  await b.page.waitForFunction(() => !document.getElementById('banner').hidden);
  assert.match(await b.page.textContent('#banner'), /changed in another tab/);
  const [row] = (await conversationsOnServer(server)).conversations;
  const doc = await (await fetch(`${server.url}/api/hearth/conversations/${row.id}`)).json();
  assert.deepEqual(doc.messages.filter((m) => m.role === 'user').map((m) => m.content),
    ['TWO-TABS first', 'TAB-A second', 'TAB-B second']);
  assert.equal(doc.messages.length, 6);
  // Tab B shows the merged conversation.
  assert.equal(await b.page.locator('.msg').count(), 6);
  // A stale If-Match is a 412 with a JSON error; a malformed one a 400.
  const put = (etag) => fetch(`${server.url}/api/hearth/conversations/${row.id}`,
    { method: 'PUT', headers: { 'If-Match': etag }, body: JSON.stringify({ messages: [] }) });
  const stale = await put('"1"');
  assert.equal(stale.status, 412);
  assert.match((await stale.json()).error, /saved elsewhere/);
  assert.equal((await put('1')).status, 400);
  await b.page.locator('#conversations li button.delete').click();
  await b.page.waitForFunction(() => document.querySelectorAll('#conversations li').length === 0);
  await assertClean(a.page, a.seen);
  await assertClean(b.page, b.seen);
});

test('the history routes refuse what they should not keep, with JSON errors', async () => {
  const base = `${server.url}/api/hearth/conversations`;
  const call = async (p, init = {}) => {
    const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(WAIT_MS), ...init });
    const body = await res.json();
    return { status: res.status, body };
  };
  const put = (p, body) => call(p, { method: 'PUT', body });
  const refused = [
    [await put('/abcdefgh-2', ''), 400, /missing request body/],
    [await put('/abcdefgh-2', '{"title": '), 400, /not valid JSON/],
    [await put('/abcdefgh-2', '[]'), 400, /object/],
    [await put('/abcdefgh-2', '{"title":"t","onload":"x"}'), 400, /onload is not a known field/],
    [await put('/abcdefgh-2', '{"messages":[{"role":"tool","content":"x"}]}'), 400, /messages\[0\]\.role/],
    [await put('/abcdefgh-2', '{"id":"abcdefgh-3"}'), 400, /differs/],
    [await put('/short', '{}'), 400, /invalid conversation id/],
    [await put('/abcdefgh-2/more', '{}'), 400, /invalid conversation id/],
    [await put('/abcdefgh-2', JSON.stringify({ title: 'x'.repeat(9 << 20) })), 413, /at most 8388608 bytes/],
    [await call('/abcdefgh-2'), 404, /not found/],
    [await call('/abcdefgh-2', { method: 'PATCH', body: '{}' }), 405, /method not allowed/],
    [await call('', { method: 'POST', body: '{}' }), 405, /method not allowed/],
    [await call('/export', { method: 'DELETE' }), 405, /method not allowed/],
  ];
  for (const [{ status, body }, want, message] of refused) {
    assert.equal(status, want, JSON.stringify(body));
    assert.match(body.error, message);
  }
  assert.deepEqual((await call('')).body.conversations, [], 'nothing was kept');
  const res = await fetch(base);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
});

test('serve refuses a bad --history-retention and contradictory flags', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = (...args) => spawnSync(BIN, ['serve', '--port', '0', ...args],
    { encoding: 'utf8', timeout: WAIT_MS, env: { ...process.env, HEARTH_HOME: '/nonexistent/hearth-ui-test' } });
  for (const bad of ['30x', '-1d', 'd', '99999999d']) {
    const r = run('--history-retention', bad);
    assert.ok(r.status !== null && r.status !== 0, `--history-retention ${bad} was accepted`);
    assert.match(r.stderr + r.stdout, /--history-retention/);
  }
  const both = run('--history', '--no-history');
  assert.ok(both.status !== null && both.status !== 0);
  assert.match(both.stderr + both.stdout, /excludes/);
});
