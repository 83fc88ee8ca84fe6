// The official `openai` npm client, unchanged, against the real `hearth serve`:
// what a program written for OpenAI's API sees when pointed at hearth. Run by
// ctest (HEARTH_BIN names the program) or by hand:
//   HEARTH_BIN=build/hearth node --test tests/openai_client/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Ajv from 'ajv';
import { startServer } from '../lib/hearth_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const MODEL = 'tiny-kjv';

let server;
let client;

before(async () => {
  const bin = process.env.HEARTH_BIN || path.join(repo, 'build', 'hearth');
  server = await startServer(bin);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  if (server) await server.stop();
});

// tiny-kjv's context is 256 tokens: the tools' schemas (which the prompt
// lists) are small, and strings bounded so that a call always ends in time.
const WEATHER = {
  type: 'function',
  function: {
    name: 'weather',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', maxLength: 12 },
        days: { type: 'integer', minimum: 1, maximum: 7 },
      },
      required: ['city', 'days'],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: 'function',
  function: { name: 'time', parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'] } },
};

test('models: list and retrieve; an unknown model is a 404 NotFoundError', async () => {
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id);
  assert.ok(ids.includes(`${MODEL}:latest`), `models ${ids}`);
  for (const m of list.data) {
    assert.equal(m.object, 'model');
    assert.ok(Number.isInteger(m.created));
  }
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
    assert.equal(e.status, 404);
    assert.ok(e instanceof OpenAI.NotFoundError);
    return true;
  });
});

test('chat completion: greedy is deterministic, with usage and finish_reason length', async () => {
  const req = { model: MODEL, messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 8, temperature: 0 };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.equal(a.object, 'chat.completion');
  assert.match(a.id, /^chatcmpl-/);
  assert.equal(a.choices.length, 1);
  assert.equal(a.choices[0].message.role, 'assistant');
  assert.ok(a.choices[0].message.content.length > 0);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  assert.equal(a.choices[0].finish_reason, 'length');
  assert.equal(a.usage.completion_tokens, 8);
  assert.ok(a.usage.prompt_tokens > 0);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
});

test('chat completion streaming: deltas join to the whole answer, usage chunk last', async () => {
  const req = { model: MODEL, messages: [{ role: 'user', content: 'And God said' }], max_tokens: 10, temperature: 0 };
  const whole = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks >= 3, `chunks ${chunks}`);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 10);
});

test('chat completion: stop strings, n choices, seed, and logprobs', async () => {
  const base = { model: MODEL, messages: [{ role: 'user', content: 'Let there be' }], max_tokens: 12 };
  const n = await client.chat.completions.create({ ...base, n: 2, temperature: 0.9, seed: 11 });
  assert.equal(n.choices.length, 2);
  assert.deepEqual(n.choices.map((c) => c.index), [0, 1]);
  const again = await client.chat.completions.create({ ...base, n: 2, temperature: 0.9, seed: 11 });
  assert.equal(again.choices[1].message.content, n.choices[1].message.content, 'a seed repeats');

  const greedy = await client.chat.completions.create({ ...base, temperature: 0 });
  const words = greedy.choices[0].message.content.split(' ').filter((w) => w.length > 2);
  const stop = words[Math.min(2, words.length - 1)];
  const cut = await client.chat.completions.create({ ...base, temperature: 0, stop: [stop] });
  assert.ok(!cut.choices[0].message.content.includes(stop), 'the stop string is not emitted');
  assert.equal(cut.choices[0].finish_reason, 'stop');

  const lp = await client.chat.completions.create({ ...base, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = lp.choices[0].logprobs.content;
  assert.equal(content.length, 4);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    // Greedy picks the most probable token.
    assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4, `${JSON.stringify(t)}`);
  }

  // Streamed, each token's entry comes with the chunk its text is in: a
  // chunk's tokens spell its content (the reply's first space trimmed), and
  // all of them together are the unstreamed list. With a stop string, the
  // token it cut comes with the last piece of text (or the final chunk).
  // Each is asked twice: the second is a replayed cached answer.
  for (const extra of [{}, {}, { stop: [stop] }, { stop: [stop] }]) {
    const whole = await client.chat.completions.create({ ...base, ...extra, temperature: 0, logprobs: true, top_logprobs: 2 });
    const stream = await client.chat.completions.create({ ...base, ...extra, temperature: 0, logprobs: true, top_logprobs: 2, stream: true });
    const entries = [];
    let text = '', withContent = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        const got = c.logprobs?.content ?? [];
        if (c.delta.content) {
          withContent += 1;
          const spelled = got.map((t) => t.token).join('');
          if (!extra.stop) assert.equal(text === '' ? spelled.trimStart() : spelled, c.delta.content, JSON.stringify(chunk));
          text += c.delta.content;
        }
        entries.push(...got);
      }
    }
    assert.ok(withContent >= 2, 'pieces came one by one');
    assert.equal(text, whole.choices[0].message.content);
    assert.deepEqual(entries, whole.choices[0].logprobs.content);
  }
});

test('a conversation longer than the context is a 400 context_length_exceeded, or cut when asked', async () => {
  const messages = [];
  for (let i = 0; i < 12; i++) {
    messages.push({ role: 'user', content: `Turn ${i}: and the earth was without form, and void; and darkness was upon the face of the deep.` });
    messages.push({ role: 'assistant', content: 'And God said, Let there be light: and there was light.' });
  }
  messages.push({ role: 'user', content: 'And God saw the light' });
  const body = { model: MODEL, messages, max_tokens: 4, temperature: 0, num_ctx: 256 };
  const err = await client.chat.completions.create(body).then(() => null, (e) => e);
  assert.ok(err, 'refused');
  assert.equal(err.status, 400);
  assert.equal(err.code, 'context_length_exceeded');
  assert.equal(err.param, 'messages');
  assert.match(err.message, /"truncate": true/);
  const cut = await client.chat.completions.create({ ...body, truncate: true });
  assert.equal(cut.choices[0].finish_reason, 'length');
  assert.ok(cut.usage.prompt_tokens < 256, JSON.stringify(cut.usage));
  const completion = await client.completions.create({ model: MODEL, prompt: messages.map((m) => m.content).join(' '), max_tokens: 4, num_ctx: 256 }).then(() => null, (e) => e);
  assert.equal(completion?.code, 'context_length_exceeded');
  assert.equal(completion.param, 'prompt');
});

test('chat completion: logit_bias bans and forces tokens; ids outside the vocabulary are a 400', async () => {
  const base = { model: MODEL, messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 1, temperature: 0, logprobs: true };
  const first = async (bias) => (await client.chat.completions.create({ ...base, logit_bias: bias })).choices[0].logprobs?.content[0]?.token;
  const range = (lo, hi, v) => Object.fromEntries(Array.from({ length: hi - lo }, (_, i) => [String(lo + i), v]));
  // The vocabulary's size: the first id refused.
  let lo = 1, hi = 1 << 20;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const ok = await client.chat.completions.create({ ...base, logit_bias: { [mid]: 0 } }).then(() => true, (e) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /outside the vocabulary/);
      return false;
    });
    if (ok) lo = mid + 1; else hi = mid;
  }
  const nVocab = lo;
  assert.ok(nVocab > 100, `n_vocab ${nVocab}`);
  // The greedy first token's id, by banning halves (at most 1024 ids a request).
  const t = await first({});
  let a = 0, b = nVocab;
  while (b - a > 1) {
    const mid = (a + b) >> 1;
    let changed = false;
    for (let s = a; s < mid && !changed; s += 1024) changed = (await first(range(s, Math.min(mid, s + 1024), -100))) !== t;
    if (changed) b = mid; else a = mid;
  }
  assert.notEqual(await first({ [a]: -100 }), t, 'banning the one token changes the answer');
  // +100 forces a token (one with text: a control token would end the answer).
  let forcedOk = false;
  for (let k = 1; k <= 20 && !forcedOk; k++) {
    const other = (a + 37 * k) % nVocab;
    const forced = await first({ [other]: 100 });
    if (forced === undefined || forced === t || forced === '') continue;
    assert.equal(await first({ [other]: 100 }), forced);
    forcedOk = true;
  }
  assert.ok(forcedOk, '+100 forces another token');
});

test('response_format json_object and json_schema: output parses and validates', async () => {
  const ajv = new Ajv();
  const obj = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Give JSON' }], max_tokens: 60, temperature: 0.8, seed: 2,
    response_format: { type: 'json_object' },
  });
  if (obj.choices[0].finish_reason === 'stop') {
    assert.equal(typeof JSON.parse(obj.choices[0].message.content), 'object');
  }
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 16 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
    },
    required: ['name', 'age', 'tags'],
    additionalProperties: false,
  };
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'A person' }], max_tokens: 200, temperature: 1, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    assert.equal(r.choices[0].finish_reason, 'stop', `seed ${seed}: ${r.choices[0].message.content}`);
    const value = JSON.parse(r.choices[0].message.content);
    assert.ok(ajv.validate(schema, value), `seed ${seed}: ${JSON.stringify(ajv.errors)} for ${r.choices[0].message.content}`);
  }
});

test('a schema hearth cannot enforce is a 400 naming the construct', async () => {
  await assert.rejects(client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'p', schema: { type: 'string', pattern: '^a+$' } } },
  }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /pattern/);
    return true;
  });
});

test('tools: tool_choice required always calls with arguments valid for the tool', async () => {
  const ajv = new Ajv();
  const validate = { weather: ajv.compile(WEATHER.function.parameters), time: ajv.compile(TIME.function.parameters) };
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], max_tokens: 60,
      temperature: 1, seed, tools: [WEATHER, TIME], tool_choice: 'required',
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c));
    assert.ok(c.message.tool_calls.length >= 1);
    for (const call of c.message.tool_calls) {
      assert.match(call.id, /^call_[a-z0-9]{8}$/);
      assert.equal(call.type, 'function');
      const args = JSON.parse(call.function.arguments);
      assert.ok(validate[call.function.name], `unknown tool ${call.function.name}`);
      assert.ok(validate[call.function.name](args), `${JSON.stringify(validate[call.function.name].errors)} for ${call.function.arguments}`);
    }
  }
});

test('tools: parameters with $defs and $ref (as Pydantic and zod write nested models) are enforced', async () => {
  const LOCATE = {
    type: 'function',
    function: {
      name: 'locate',
      parameters: {
        type: 'object',
        $defs: { Point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, y: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['x', 'y'], additionalProperties: false } },
        properties: { at: { $ref: '#/$defs/Point' } },
        required: ['at'],
        additionalProperties: false,
      },
    },
  };
  const validate = new Ajv().compile(LOCATE.function.parameters);
  // One tool: the tools' descriptions fill tiny-kjv's 256 tokens quickly.
  for (const seed of [5, 6]) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Where?' }], max_tokens: 60, temperature: 1, seed,
      tools: [LOCATE], tool_choice: 'required',
    });
    assert.equal(r.choices[0].finish_reason, 'tool_calls', JSON.stringify(r.choices[0]));
    const call = r.choices[0].message.tool_calls[0];
    const args = JSON.parse(call.function.arguments);
    assert.ok(validate(args), `${JSON.stringify(validate.errors)} for ${call.function.arguments}`);
  }
});

test('tools: a named tool_choice calls that tool; streamed, the call arrives as a delta', async () => {
  const req = {
    model: MODEL, messages: [{ role: 'user', content: 'Time?' }], max_tokens: 120, temperature: 0.7, seed: 5,
    tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'time' } },
  };
  const r = await client.chat.completions.create(req);
  assert.equal(r.choices[0].message.tool_calls[0].function.name, 'time');
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const t of c.delta.tool_calls ?? []) calls.push(t);
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].index, 0);
  assert.equal(calls[0].function.name, 'time');
  assert.ok(['UTC', 'CET'].includes(JSON.parse(calls[0].function.arguments).zone));

  // The tool's result comes back as a role "tool" message, and the model answers.
  const follow = await client.chat.completions.create({
    model: MODEL, max_tokens: 8, temperature: 0, tools: [WEATHER, TIME],
    messages: [
      { role: 'user', content: 'Time?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_abcdefgh', type: 'function', function: { name: 'time', arguments: '{"zone":"UTC"}' } }] },
      { role: 'tool', tool_call_id: 'call_abcdefgh', content: '12:00' },
    ],
  });
  assert.ok(follow.choices[0].message.content !== undefined);
  assert.ok(follow.usage.prompt_tokens > 20);
  assert.ok(['stop', 'length'].includes(follow.choices[0].finish_reason));

  await assert.rejects(client.chat.completions.create({ ...req, tool_choice: { type: 'function', function: { name: 'nope' } } }),
    (e) => e.status === 400 && /nope/.test(e.message));
});

test('tools: parameters whose root is anyOf, or with a $ref under a property named enum, are forced', async () => {
  const EITHER = {
    type: 'function',
    function: {
      name: 'either',
      parameters: {
        anyOf: [
          { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false },
          { type: 'object', properties: { b: { type: 'integer' } }, required: ['b'], additionalProperties: false },
        ],
      },
    },
  };
  const ENUM = {
    type: 'function',
    function: {
      name: 'level',
      parameters: {
        type: 'object', properties: { enum: { $ref: '#/$defs/X' } }, required: ['enum'],
        additionalProperties: false, $defs: { X: { type: 'integer', minimum: 0, maximum: 5 } },
      },
    },
  };
  for (const tool of [EITHER, ENUM]) {
    const validate = new Ajv().compile(tool.function.parameters);
    for (const tool_choice of ['required', { type: 'function', function: { name: tool.function.name } }]) {
      const r = await client.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'Call it.' }], max_tokens: 60, temperature: 1, seed: 7,
        tools: [tool], tool_choice,
      });
      const call = r.choices[0].message.tool_calls?.[0];
      assert.ok(call, JSON.stringify(r.choices[0]));
      const args = JSON.parse(call.function.arguments);
      assert.ok(validate(args), `${JSON.stringify(validate.errors)} for ${call.function.arguments}`);
    }
  }
});

test('a schema error names the JSON pointer, and a remote $ref its URL', async () => {
  const bad = async (schema, pattern) => assert.rejects(client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'p', schema } },
  }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, pattern);
    return true;
  });
  await bad({ type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'string', pattern: 'x' } } } } },
    /schema at '\/properties\/a\/properties\/b': keyword 'pattern'/);
  await bad({ $ref: 'http://example.com/s.json' }, /'\$ref' 'http:\/\/example\.com\/s\.json' is not supported/);
});

test('response_format json_schema without a schema gives a JSON object', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 40, temperature: 1, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'n' } },
    });
    if (r.choices[0].finish_reason !== 'stop') continue;
    const value = JSON.parse(r.choices[0].message.content);
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), r.choices[0].message.content);
  }
});

// The bundled model's template teaches no call syntax: a reply that is a JSON
// array of calls is two calls, and a response format makes the model write it.
const TWO_CALLS = [{ name: 'time', arguments: { zone: 'UTC' } }, { name: 'time', arguments: { zone: 'CET' } }];

test('tools: parallel_tool_calls false keeps the first of two calls (chat, streamed, responses)', async () => {
  const req = {
    model: MODEL, messages: [{ role: 'user', content: 'Time?' }], max_tokens: 140, temperature: 0, tools: [TIME],
    response_format: { type: 'json_schema', json_schema: { name: 'calls', schema: { const: TWO_CALLS } } },
  };
  const both = await client.chat.completions.create(req);
  assert.deepEqual(both.choices[0].message.tool_calls.map((c) => JSON.parse(c.function.arguments).zone), ['UTC', 'CET']);
  const one = await client.chat.completions.create({ ...req, parallel_tool_calls: false });
  assert.equal(one.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(one.choices[0].message.tool_calls.map((c) => JSON.parse(c.function.arguments).zone), ['UTC']);
  const stream = await client.chat.completions.create({ ...req, parallel_tool_calls: false, stream: true });
  const calls = [];
  for await (const chunk of stream) for (const c of chunk.choices) calls.push(...(c.delta.tool_calls ?? []));
  assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments).zone), ['UTC']);

  const r = await client.responses.create({
    model: MODEL, input: 'Time?', max_output_tokens: 140, temperature: 0, parallel_tool_calls: false,
    tools: [{ type: 'function', ...TIME.function }],
    text: { format: { type: 'json_schema', name: 'calls', schema: { const: TWO_CALLS } } },
  });
  assert.deepEqual(r.output.filter((o) => o.type === 'function_call').map((o) => JSON.parse(o.arguments).zone), ['UTC']);
  assert.equal(r.parallel_tool_calls, false);  // the request's, echoed
});

test('completions: raw continuation, echo, streaming and the default of 16 tokens', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'In the beginning God', temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.usage.completion_tokens, 16);
  assert.equal(r.choices[0].finish_reason, 'length');
  const echo = await client.completions.create({ model: MODEL, prompt: 'In the beginning God', temperature: 0, max_tokens: 4, echo: true });
  assert.ok(echo.choices[0].text.startsWith('In the beginning God'));
  const stream = await client.completions.create({ model: MODEL, prompt: 'In the beginning God', temperature: 0, max_tokens: 16, stream: true });
  let text = '';
  for await (const chunk of stream) for (const c of chunk.choices) text += c.text;
  assert.equal(text, r.choices[0].text);
  // Streamed with logprobs: each chunk carries its own tokens (they spell its
  // text), one per token, the same as unstreamed.
  const lpWhole = await client.completions.create({ model: MODEL, prompt: 'In the beginning God', temperature: 0, max_tokens: 3, logprobs: 1 });
  const lpStream = await client.completions.create({ model: MODEL, prompt: 'In the beginning God', temperature: 0, max_tokens: 3, logprobs: 1, stream: true });
  const got = [];
  const tokens = [];
  for await (const chunk of lpStream) {
    for (const c of chunk.choices) {
      if (!c.logprobs) continue;
      assert.equal(c.logprobs.tokens.join(''), c.text, JSON.stringify(chunk));
      got.push(...c.logprobs.token_logprobs);
      tokens.push(...c.logprobs.tokens);
    }
  }
  assert.equal(got.length, 3);
  assert.deepEqual(got, lpWhole.choices[0].logprobs.token_logprobs);
  assert.deepEqual(tokens, lpWhole.choices[0].logprobs.tokens);
  // An empty prompt continues BOS: text from the start (a 200, not an error
  // the SDK would retry).
  const empty = await client.completions.create({ model: MODEL, prompt: '', temperature: 0, max_tokens: 4 });
  assert.equal(empty.usage.prompt_tokens, 1);
  assert.equal(empty.usage.completion_tokens, 4);
});

test('embeddings: float and base64, one and many inputs, usage', async () => {
  const one = await client.embeddings.create({ model: MODEL, input: 'In the beginning', encoding_format: 'float' });
  assert.equal(one.object, 'list');
  const v = one.data[0].embedding;
  assert.ok(v.length > 0);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  assert.ok(one.usage.prompt_tokens > 0);
  // The client asks for base64 by default and decodes it: the same vector.
  const b64 = await client.embeddings.create({ model: MODEL, input: ['In the beginning', 'God said'] });
  assert.equal(b64.data.length, 2);
  assert.deepEqual(b64.data.map((d) => d.index), [0, 1]);
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(b64.data[0].embedding[i] - v[i]) < 1e-6);
  const dims = await client.embeddings.create({ model: MODEL, input: 'x', dimensions: 8, encoding_format: 'float' });
  assert.equal(dims.data[0].embedding.length, 8);
});

test('responses: stateless create, streaming events, tools; previous_response_id refused', async () => {
  const r = await client.responses.create({ model: MODEL, input: 'In the beginning', max_output_tokens: 8, temperature: 0 });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.ok(r.output_text.length > 0);
  assert.equal(r.usage.output_tokens, 8);
  assert.equal(r.parallel_tool_calls, true);

  const stream = await client.responses.create({ model: MODEL, input: 'In the beginning', max_output_tokens: 8, temperature: 0, stream: true });
  let text = '';
  const types = [];
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  assert.equal(types[0], 'response.created');
  assert.ok(['response.completed', 'response.incomplete'].includes(types.at(-1)), types.join());
  assert.equal(text, r.output_text);

  const call = await client.responses.create({
    model: MODEL, input: [{ role: 'user', content: 'Weather in Oslo?' }], max_output_tokens: 150, temperature: 0.5, seed: 1,
    tools: [{ type: 'function', ...WEATHER.function }], tool_choice: 'required',
  });
  const fc = call.output.find((o) => o.type === 'function_call');
  assert.ok(fc, JSON.stringify(call.output));
  assert.ok(new Ajv().validate(WEATHER.function.parameters, JSON.parse(fc.arguments)));

  await assert.rejects(client.responses.create({ model: MODEL, input: 'x', previous_response_id: 'resp_123' }),
    (e) => e.status === 400 && /previous_response_id/.test(e.message));
});

test('errors have OpenAI\'s shape: type, param and status', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 7 }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.equal(body.error.param, 'temperature');
  assert.match(body.error.message, /temperature/);
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [] }), (e) => e.status === 400);
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'wizard', content: 'x' }] }), (e) => e.status === 400);
});

// A model whose template thinks: created through Ollama's API from tiny-kjv
// with a ChatML template that opens <think> in the generation prompt (as QwQ
// and the DeepSeek-R1 distills do) unless enable_thinking is false (as Qwen3).
const THINKING_TEMPLATE = '{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endfor %}' +
  '{%- if add_generation_prompt %}<|im_start|>assistant\n<think>\n' +
  '{%- if enable_thinking is defined and enable_thinking is false %}</think>\n\n{%- endif %}{%- endif %}';

test('reasoning: a thinking template\'s reply goes to reasoning_content; reasoning_effort none turns it off', async () => {
  const created = await fetch(`${server.url}/api/create`, {
    method: 'POST',
    body: JSON.stringify({ model: 'thinker', from: MODEL, template: THINKING_TEMPLATE, stream: false }),
  });
  assert.equal(created.status, 200, await created.text());
  const base = { model: 'thinker', messages: [{ role: 'user', content: 'Why?' }], max_tokens: 12, temperature: 0 };
  const think = await client.chat.completions.create(base);
  const m = think.choices[0].message;
  // The tiny model never closes </think>: all it says is reasoning.
  assert.ok(m.reasoning_content && m.reasoning_content.length > 0, JSON.stringify(m));
  assert.equal(m.content, '');
  const plain = await client.chat.completions.create({ ...base, reasoning_effort: 'none' });
  assert.equal(plain.choices[0].message.reasoning_content, undefined);
  assert.ok(plain.choices[0].message.content.length > 0);
  // Streamed, the reasoning arrives as reasoning_content deltas.
  const stream = await client.chat.completions.create({ ...base, stream: true });
  let reasoning = '';
  for await (const chunk of stream) for (const c of chunk.choices) reasoning += c.delta.reasoning_content ?? '';
  assert.equal(reasoning, m.reasoning_content);
  // Ollama's think, and a model that cannot think refuses it.
  const ollama = await (await fetch(`${server.url}/api/chat`, {
    method: 'POST', body: JSON.stringify({ model: 'thinker', messages: base.messages, think: true, stream: false, options: { temperature: 0, num_predict: 12 } }),
  })).json();
  assert.equal(ollama.message.thinking, m.reasoning_content);
  const refused = await fetch(`${server.url}/api/chat`, {
    method: 'POST', body: JSON.stringify({ model: MODEL, messages: base.messages, think: true, stream: false }),
  });
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).error, /does not support thinking/);
});
