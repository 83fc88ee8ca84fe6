// The official `ollama` npm client against the real `hearth serve`: what a
// program written for Ollama sees when it talks to hearth. Run by ctest
// (HEARTH_BIN names the program) or by hand:
//   HEARTH_BIN=build/hearth node --test tests/ollama_client/
// The server gets a fresh HEARTH_HOME and a free loopback port, and is killed
// at the end, whether the tests pass or not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../lib/hearth_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const MODEL = 'tiny-kjv';
// Go's time.RFC3339Nano, as Ollama writes timestamps (hearth writes UTC).
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
const GREEDY = { temperature: 0, num_predict: 8 };

// ------------------------------------------------------------ the server

// ------------------------------------------------------------ helpers

function assertNanos(value, name) {
  assert.ok(Number.isInteger(value) && value >= 0, `${name} must be integer nanoseconds, got ${value}`);
}

// The statistics of a final generate or chat object, with Ollama's types.
function assertFinalStats(r, { maxTokens }) {
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason), `done_reason ${r.done_reason}`);
  for (const key of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    assertNanos(r[key], key);
  }
  assert.ok(r.total_duration >= r.load_duration, 'total_duration includes load_duration');
  assert.ok(Number.isInteger(r.prompt_eval_count) && r.prompt_eval_count > 0,
    `prompt_eval_count ${r.prompt_eval_count}`);
  assert.ok(Number.isInteger(r.eval_count) && r.eval_count > 0 && r.eval_count <= maxTokens,
    `eval_count ${r.eval_count}`);
  if (r.eval_count === maxTokens) assert.equal(r.done_reason, 'length');
}

// The client's error for a refused request: a ResponseError with the status.
async function assertRefused(promise, status, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, 'ResponseError', `${err}`);
    assert.equal(err.status_code, status, `${err.error}`);
    if (typeof message === 'string') assert.equal(err.error, message);
    else if (message) assert.match(err.error, message);
    return true;
  });
}

const isModel = (entry, name) => entry.name === name || entry.name === `${name}:latest`;

// ------------------------------------------------------------ the tests

const ollamaPackage = path.join(repo, 'node_modules', 'ollama', 'package.json');
if (!fs.existsSync(ollamaPackage)) {
  test('the ollama npm client is installed', () => {
    assert.fail(`${ollamaPackage} is missing: run scripts/setup.sh (it runs npm ci) first`);
  });
} else {
  const { Ollama } = await import('ollama');
  const bin = process.env.HEARTH_BIN || path.join(repo, 'build', 'hearth');
  let server;
  let client;

  before(async () => {
    assert.ok(fs.existsSync(bin), `hearth program ${bin} not found: build it or set HEARTH_BIN`);
    server = await startServer(bin);
    client = new Ollama({ host: server.url });
  });

  after(async () => {
    client?.abort();
    await server?.stop();
  });

  // Diagnostics: the server's output accompanies any failure below.
  const withLog = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      err.message += `\n--- hearth serve output (tail) ---\n${server?.output() ?? ''}`;
      throw err;
    }
  };

  test('version, GET / and HEAD /api/version', withLog(async () => {
    const v = await client.version();
    assert.equal(typeof v.version, 'string');
    assert.ok(v.version.length > 0);
    const root = await fetch(`${server.url}/`);
    assert.equal(root.status, 200);
    assert.equal(await root.text(), 'Ollama is running');
    const head = await fetch(`${server.url}/api/version`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  }));

  test('list shows the bundled tiny-kjv', withLog(async () => {
    const { models } = await client.list();
    assert.ok(Array.isArray(models));
    const m = models.find((e) => isModel(e, MODEL));
    assert.ok(m, `tiny-kjv not in ${JSON.stringify(models.map((e) => e.name))}`);
    assert.equal(m.model, m.name);
    assert.match(m.modified_at, RFC3339);
    assert.ok(Number.isInteger(m.size) && m.size > 0);
    assert.match(m.digest, /^[0-9a-f]{64}$/);
    assert.equal(m.details.format, 'gguf');
    assert.equal(typeof m.details.family, 'string');
    assert.ok(Array.isArray(m.details.families));
    assert.equal(typeof m.details.parameter_size, 'string');
    assert.equal(typeof m.details.quantization_level, 'string');
  }));

  test('show', withLog(async () => {
    const s = await client.show({ model: MODEL });
    assert.equal(s.details.format, 'gguf');
    assert.equal(typeof s.model_info['general.architecture'], 'string');
    assert.equal(s.model_info['general.architecture'], s.details.family);
    assert.ok(s.capabilities.includes('completion'), `capabilities ${s.capabilities}`);
    assert.match(s.modified_at, RFC3339);
    if (s.parameters !== undefined) assert.equal(typeof s.parameters, 'string');
    if (s.template !== undefined) assert.equal(typeof s.template, 'string');
  }));

  test('generate, not streamed', withLog(async () => {
    const r = await client.generate({ model: MODEL, prompt: 'In the beginning', options: GREEDY });
    assert.equal(r.model, MODEL);
    assert.match(r.created_at, RFC3339);
    assert.equal(typeof r.response, 'string');
    assert.ok(r.response.length > 0);
    assertFinalStats(r, { maxTokens: 8 });
    assert.ok(Array.isArray(r.context) && r.context.length > r.eval_count);
    assert.ok(r.context.every(Number.isInteger));
    // Greedy decoding is deterministic.
    const again = await client.generate({ model: MODEL, prompt: 'In the beginning', options: GREEDY });
    assert.equal(again.response, r.response);
  }));

  test('generate, streamed, matches the whole answer', withLog(async () => {
    const whole = await client.generate({ model: MODEL, prompt: 'In the beginning', options: GREEDY });
    const stream = await client.generate({
      model: MODEL, prompt: 'In the beginning', options: GREEDY, stream: true,
    });
    let text = '';
    let last;
    let pieces = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.model, MODEL);
      assert.match(chunk.created_at, RFC3339);
      assert.equal(typeof chunk.response, 'string');
      text += chunk.response;
      if (!chunk.done) pieces++;
      last = chunk;
    }
    assert.ok(pieces > 0, 'at least one piece before the final object');
    assertFinalStats(last, { maxTokens: 8 });
    assert.equal(last.eval_count, whole.eval_count);
    assert.equal(text, whole.response);
  }));

  test('generate on the wire: NDJSON stream, keys in Ollama\'s order', withLog(async () => {
    const res = await fetch(`${server.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: 'In the beginning', options: GREEDY }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/x-ndjson/);
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    const objects = lines.map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(objects[0]), ['model', 'created_at', 'response', 'done']);
    assert.deepEqual(Object.keys(objects.at(-1)), [
      'model', 'created_at', 'response', 'done', 'done_reason', 'context', 'total_duration',
      'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration',
    ]);
  }));

  test('generate with an empty prompt loads, with keep_alive 0 unloads', withLog(async () => {
    const load = await client.generate({ model: MODEL, prompt: '' });
    assert.equal(load.done, true);
    assert.equal(load.done_reason, 'load');
    assert.equal(load.response, '');
    const unload = await client.generate({ model: MODEL, prompt: '', keep_alive: 0 });
    assert.equal(unload.done, true);
    assert.equal(unload.done_reason, 'unload');
    // The unload may finish just after the answer.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const { models } = await client.ps();
      if (!models.some((e) => isModel(e, MODEL))) break;
      assert.ok(Date.now() < deadline, `${MODEL} still in /api/ps 5 s after unloading`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }));

  test('chat, not streamed and streamed', withLog(async () => {
    const messages = [{ role: 'user', content: 'In the beginning' }];
    const r = await client.chat({ model: MODEL, messages, options: GREEDY });
    assert.equal(r.model, MODEL);
    assert.match(r.created_at, RFC3339);
    assert.equal(r.message.role, 'assistant');
    assert.equal(typeof r.message.content, 'string');
    assertFinalStats(r, { maxTokens: 8 });

    const stream = await client.chat({ model: MODEL, messages, options: GREEDY, stream: true });
    let text = '';
    let last;
    for await (const chunk of stream) {
      assert.equal(chunk.message.role, 'assistant');
      text += chunk.message.content;
      last = chunk;
    }
    assertFinalStats(last, { maxTokens: 8 });
    assert.equal(text, r.message.content);
  }));

  test('chat with no messages loads the model', withLog(async () => {
    const r = await client.chat({ model: MODEL, messages: [] });
    assert.equal(r.done, true);
    assert.equal(r.done_reason, 'load');
    assert.deepEqual(r.message, { role: 'assistant', content: '' });
  }));

  test('embed and the legacy embeddings', withLog(async () => {
    const r = await client.embed({ model: MODEL, input: ['In the beginning', 'God created'] });
    assert.equal(r.model, MODEL);
    assert.equal(r.embeddings.length, 2);
    const dim = r.embeddings[0].length;
    assert.ok(dim > 0);
    for (const e of r.embeddings) {
      assert.equal(e.length, dim);
      assert.ok(e.every(Number.isFinite));
      // Ollama returns unit vectors.
      const norm = Math.hypot(...e);
      assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
    }
    assert.notDeepEqual(r.embeddings[0], r.embeddings[1]);
    assertNanos(r.total_duration, 'total_duration');
    assertNanos(r.load_duration, 'load_duration');
    assert.ok(Number.isInteger(r.prompt_eval_count) && r.prompt_eval_count > 0);

    const one = await client.embed({ model: MODEL, input: 'In the beginning' });
    assert.equal(one.embeddings.length, 1);
    assert.equal(one.embeddings[0].length, dim);

    const legacy = await client.embeddings({ model: MODEL, prompt: 'In the beginning' });
    assert.equal(legacy.embedding.length, dim);
  }));

  test('ps lists the model after a request, with hearth\'s queue', withLog(async () => {
    await client.generate({ model: MODEL, prompt: 'In', options: { temperature: 0, num_predict: 1 } });
    const { models } = await client.ps();
    const m = models.find((e) => isModel(e, MODEL));
    assert.ok(m, `tiny-kjv not in /api/ps: ${JSON.stringify(models)}`);
    assert.equal(m.model, m.name);
    assert.match(m.expires_at, RFC3339);
    assert.ok(Date.parse(m.expires_at) > Date.now(), 'expires in the future');
    assert.ok(Number.isInteger(m.size) && m.size > 0);
    assert.ok(Number.isInteger(m.size_vram));
    assert.equal(m.details.format, 'gguf');
    assert.ok(Number.isInteger(m.queue.active) && Number.isInteger(m.queue.waiting));
  }));

  test('copy, then delete', withLog(async () => {
    const copy = 'kjv-copy';
    assert.deepEqual(await client.copy({ source: MODEL, destination: copy }), { status: 'success' });
    assert.ok((await client.list()).models.some((e) => isModel(e, copy)));
    const shown = await client.show({ model: copy });
    assert.equal(shown.details.family, (await client.show({ model: MODEL })).details.family);
    await client.delete({ model: copy });  // ollama-js sends {name}
    assert.ok(!(await client.list()).models.some((e) => isModel(e, copy)));
    await assertRefused(client.delete({ model: copy }), 404, `model "${copy}" not found`);
    await assertRefused(client.copy({ source: 'no-such-model', destination: 'x' }), 404,
      'model "no-such-model" not found');
  }));

  test('create from tiny-kjv with a system prompt', withLog(async () => {
    const name = 'kjv-preacher';
    const system = 'You are a preacher of the King James Bible.';
    const r = await client.create({ model: name, from: MODEL, system, stream: false });
    assert.equal(r.status, 'success');
    const s = await client.show({ model: name });
    assert.equal(s.system, system);
    assert.ok((await client.list()).models.some((e) => isModel(e, name)));
    const g = await client.generate({ model: name, prompt: 'In', options: { temperature: 0, num_predict: 2 } });
    assert.equal(g.done, true);

    // Streamed: progress objects ending in success.
    const statuses = [];
    for await (const p of await client.create({ model: `${name}-2`, from: name, stream: true })) {
      assert.equal(typeof p.status, 'string');
      statuses.push(p.status);
    }
    assert.equal(statuses.at(-1), 'success');
    await client.delete({ model: `${name}-2` });
    await client.delete({ model: name });
  }));

  // Ollama's /api/generate thinks as its /api/chat does: a thinking template
  // thinks unless told not to, and the reasoning comes back in `thinking`.
  // The template leaves the reply inside <think> (think:false closes it), so
  // all the tiny model writes is reasoning, and with think:false all is response.
  test('generate with a thinking template', withLog(async () => {
    const name = 'kjv-thinker';
    const template = '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}' +
      '{% if enable_thinking is defined and not enable_thinking %}assistant: <think></think>' +
      '{% else %}assistant: <think>{% endif %}';
    const r = await client.create({ model: name, from: MODEL, template, stream: false });
    assert.equal(r.status, 'success');
    try {
      const s = await client.show({ model: name });
      assert.ok(s.capabilities.includes('thinking'), `capabilities ${s.capabilities}`);
      const ask = { model: name, prompt: 'In the beginning', options: GREEDY };

      const on = await client.generate({ ...ask, think: true });
      assert.equal(typeof on.thinking, 'string');
      assert.ok(on.thinking.length > 0, 'think:true: the reasoning in `thinking`');
      assert.ok(!on.response.includes('<think>'), `response ${JSON.stringify(on.response)}`);
      assert.ok(!on.thinking.includes('<think>'), `thinking ${JSON.stringify(on.thinking)}`);

      // Unset: the model's default, thinking, as Ollama's is.
      const unset = await client.generate(ask);
      assert.equal(unset.thinking, on.thinking);
      assert.equal(unset.response, on.response);
      assert.equal(unset.prompt_eval_count, on.prompt_eval_count);

      // think:false reaches the template: the block is closed in the prompt.
      const off = await client.generate({ ...ask, think: false });
      assert.equal(off.thinking, undefined);
      assert.ok(off.response.length > 0);
      assert.ok(!off.response.includes('<think>'), `response ${JSON.stringify(off.response)}`);
      assert.ok(off.prompt_eval_count > on.prompt_eval_count,
        `prompt_eval_count ${off.prompt_eval_count} (think:false) vs ${on.prompt_eval_count}`);

      // Streamed: the pieces carry `thinking`, and join to the whole.
      let thinking = '';
      let response = '';
      for await (const chunk of await client.generate({ ...ask, think: 'medium', stream: true })) {
        if (chunk.thinking) thinking += chunk.thinking;
        response += chunk.response;
      }
      assert.equal(thinking, on.thinking);
      assert.equal(response, on.response);

      // Raw: no template, so nothing to switch and the reply stays whole.
      const raw = await client.generate({ ...ask, raw: true });
      assert.equal(raw.thinking, undefined);
      assert.ok(raw.response.length > 0);
    } finally {
      await client.delete({ model: name });
    }
  }));

  test('errors a client sees', withLog(async () => {
    const missing = 'no-such-model';
    await assertRefused(client.generate({ model: missing, prompt: 'hi' }), 404,
      `model "${missing}" not found`);
    await assertRefused(client.generate({ model: missing, prompt: 'hi', stream: true }), 404,
      `model "${missing}" not found`);
    await assertRefused(client.chat({ model: missing, messages: [{ role: 'user', content: 'hi' }] }),
      404, `model "${missing}" not found`);
    await assertRefused(client.show({ model: missing }), 404, `model "${missing}" not found`);
    await assertRefused(client.chat({ model: '', messages: [] }), 400, 'model is required');
    await assertRefused(
      client.generate({ model: MODEL, prompt: 'hi', options: { temperature: 'hot' } }), 400,
      /temperature/);
    await assertRefused(
      client.generate({ model: MODEL, prompt: 'hi', options: { num_predict: '8' } }), 400,
      /num_predict/);
    await assertRefused(client.generate({ model: MODEL, prompt: 'hi', keep_alive: 'soon' }), 400,
      /keep_alive/);
    await assertRefused(client.generate({ model: MODEL, prompt: 'hi', format: 'xml' }), 400,
      /invalid format/);
    await assertRefused(client.generate({ model: MODEL, prompt: 'hi', images: ['aGk='] }), 400,
      /does not support images/);
    await assertRefused(client.pull({ model: 'llama3.2', stream: false }), 501, /registry/);
    // A model that is here: nothing to fetch, success, as scripts that pull before use expect.
    assert.deepEqual(await client.pull({ model: MODEL, stream: false }), { status: 'success' });
    const statuses = [];
    for await (const part of await client.pull({ model: MODEL, stream: true })) statuses.push(part.status);
    assert.deepEqual(statuses, ['success']);
    await assertRefused(client.push({ model: MODEL, stream: false }), 501, /registry/);
    // A malformed body is a 400 with an {error} body, not a dropped connection.
    const res = await fetch(`${server.url}/api/generate`, { method: 'POST', body: '{"model":' });
    assert.equal(res.status, 400);
    assert.equal(typeof (await res.json()).error, 'string');
  }));

  test('structured output satisfies its schema',
    withLog(async () => {
      const { default: Ajv } = await import('ajv');
      const schema = {
        type: 'object',
        properties: { book: { type: 'string', maxLength: 24 }, chapter: { type: 'integer', minimum: 1, maximum: 150 } },
        required: ['book', 'chapter'],
      };
      const r = await client.generate({
        model: MODEL, prompt: 'Genesis chapter one as JSON:', format: schema,
        options: { temperature: 0, num_predict: 128 },
      });
      assert.equal(r.done_reason, 'stop', 'the document ended before num_predict');
      const validate = new Ajv().compile(schema);
      const value = JSON.parse(r.response);
      assert.ok(validate(value), JSON.stringify(validate.errors));
    }));

  test('tools: calls in Ollama\'s shape (tool_choice is hearth\'s extension), results as role tool',
    withLog(async () => {
      const { default: Ajv } = await import('ajv');
      const parameters = {
        type: 'object',
        properties: { book: { type: 'string', maxLength: 10 }, chapter: { type: 'integer', minimum: 1, maximum: 50 } },
        required: ['book', 'chapter'],
      };
      const tools = [{ type: 'function', function: { name: 'read', description: 'Read', parameters } }];
      const r = await client.chat({
        model: MODEL, messages: [{ role: 'user', content: 'Read Genesis 1' }], tools, tool_choice: 'required',
        options: { temperature: 0.8, seed: 4, num_predict: 60 },
      });
      assert.equal(r.message.tool_calls.length, 1, JSON.stringify(r.message));
      const call = r.message.tool_calls[0];
      assert.match(call.id, /^call_[a-z0-9]{8}$/);
      assert.equal(call.function.index, 0);
      assert.equal(call.function.name, 'read');
      assert.equal(typeof call.function.arguments, 'object', 'arguments are an object, not a string');
      assert.deepEqual(Object.keys(call.function.arguments), ['book', 'chapter'], 'in the schema\'s order');
      assert.ok(new Ajv().validate(parameters, call.function.arguments));
      // Streamed: the call comes whole in one chunk.
      const parts = [];
      for await (const part of await client.chat({
        model: MODEL, messages: [{ role: 'user', content: 'Read Exodus 2' }], tools, tool_choice: 'required',
        stream: true, options: { temperature: 0.8, seed: 5, num_predict: 60 },
      })) parts.push(part);
      const withCalls = parts.filter((p) => p.message.tool_calls?.length);
      assert.equal(withCalls.length, 1);
      assert.ok(new Ajv().validate(parameters, withCalls[0].message.tool_calls[0].function.arguments));
      // The result goes back as a tool message, and the model answers.
      const next = await client.chat({
        model: MODEL, tools, options: { temperature: 0, num_predict: 6 },
        messages: [
          { role: 'user', content: 'Read Genesis 1' },
          { role: 'assistant', content: '', tool_calls: [call] },
          { role: 'tool', content: 'In the beginning', tool_name: 'read' },
        ],
      });
      assert.equal(next.done, true);
      assert.ok(next.prompt_eval_count > 0);
    }));

  test('logprobs: the sampled tokens\' log-probabilities and their alternatives', withLog(async () => {
    const r = await client.generate({ model: MODEL, prompt: 'In the beginning', logprobs: true, top_logprobs: 2, options: { temperature: 0, num_predict: 3 } });
    assert.equal(r.logprobs.length, 3);
    for (const lp of r.logprobs) {
      assert.ok(lp.logprob <= 0);
      assert.equal(lp.top_logprobs.length, 2);
      assert.ok(Math.abs(lp.top_logprobs[0].logprob - lp.logprob) < 1e-4, 'greedy takes the most probable');
    }
    // The tokens spell the response (a reply's leading space is trimmed).
    assert.equal(r.logprobs.map((x) => x.token).join('').trimStart(), r.response);

    // Streamed, each chunk carries the entries of the tokens its text came
    // from, and together they are the unstreamed list.
    const whole = await client.chat({ model: MODEL, messages: [{ role: 'user', content: 'Let there be' }], logprobs: true, top_logprobs: 1, options: { temperature: 0, num_predict: 8 } });
    const stream = await client.chat({ model: MODEL, messages: [{ role: 'user', content: 'Let there be' }], logprobs: true, top_logprobs: 1, stream: true, options: { temperature: 0, num_predict: 8 } });
    const entries = [];
    let text = '', pieces = 0;
    for await (const part of stream) {
      const got = part.logprobs ?? [];
      if (part.message.content) {
        pieces += 1;
        const spelled = got.map((x) => x.token).join('');
        assert.equal(text === '' ? spelled.trimStart() : spelled, part.message.content, JSON.stringify(part));
        text += part.message.content;
      }
      entries.push(...got);
    }
    assert.ok(pieces >= 2);
    assert.equal(text, whole.message.content);
    assert.deepEqual(entries, whole.logprobs);
  }));
}
