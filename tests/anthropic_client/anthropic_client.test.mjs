// The official `@anthropic-ai/sdk` client, unchanged, against the real
// `hearth serve`: Anthropic's Messages API as a program written for it sees it.
//   HEARTH_BIN=build/hearth node --test tests/anthropic_client/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
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
  client = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  if (server) await server.stop();
});

// Small and bounded: tiny-kjv's context is 256 tokens.
const WEATHER = {
  name: 'weather',
  description: 'Weather',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
    required: ['city', 'days'],
  },
};

test('messages: a whole reply with usage; greedy repeats; max_tokens stops it', async () => {
  const req = { model: MODEL, max_tokens: 8, temperature: 0, system: 'Answer briefly.', messages: [{ role: 'user', content: 'In the beginning' }] };
  const a = await client.messages.create(req);
  const b = await client.messages.create(req);
  assert.equal(a.type, 'message');
  assert.equal(a.role, 'assistant');
  assert.match(a.id, /^msg_/);
  assert.equal(a.content[0].type, 'text');
  assert.ok(a.content[0].text.length > 0);
  assert.equal(a.content[0].text, b.content[0].text);
  assert.equal(a.stop_reason, 'max_tokens');
  assert.equal(a.usage.output_tokens, 8);
  assert.ok(a.usage.input_tokens > 0);
});

test('messages streaming: the event sequence, and text deltas that join to the whole reply', async () => {
  const req = { model: MODEL, max_tokens: 10, temperature: 0, messages: [{ role: 'user', content: [{ type: 'text', text: 'And God said' }] }] };
  const whole = await client.messages.create(req);
  const stream = await client.messages.create({ ...req, stream: true });
  const types = [];
  let text = '';
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
  }
  assert.equal(types[0], 'message_start');
  assert.equal(types[1], 'content_block_start');
  assert.ok(types.includes('content_block_stop'));
  assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
  assert.equal(text, whole.content[0].text);
  // The SDK's own accumulator agrees.
  const final = await client.messages.stream(req).finalMessage();
  assert.equal(final.content[0].text, whole.content[0].text);
  assert.equal(final.stop_reason, 'max_tokens');
});

test('stop_sequences end the reply before the sequence', async () => {
  const req = { model: MODEL, max_tokens: 16, temperature: 0, messages: [{ role: 'user', content: 'Let there be' }] };
  const whole = await client.messages.create(req);
  const words = whole.content[0].text.split(' ').filter((w) => w.length > 2);
  const stop = words[Math.min(1, words.length - 1)];
  const cut = await client.messages.create({ ...req, stop_sequences: ['no such words', stop] });
  assert.ok(!cut.content[0].text.includes(stop));
  assert.equal(cut.stop_reason, 'stop_sequence');
  assert.equal(cut.stop_sequence, stop);
  const streamed = await client.messages.stream({ ...req, stop_sequences: [stop] }).finalMessage();
  assert.equal(streamed.stop_reason, 'stop_sequence');
  assert.equal(streamed.stop_sequence, stop);
  assert.equal(whole.stop_sequence, null);
});

test('a final assistant message is continued (prefill), leading space and all', async () => {
  const req = { model: MODEL, max_tokens: 4, temperature: 0 };
  const ask = [{ role: 'user', content: 'In the beginning' }];
  const plain = await client.messages.create({ ...req, messages: ask });
  const prefix = 'God created the';
  const cont = await client.messages.create({ ...req, messages: [...ask, { role: 'assistant', content: prefix }] });
  // The prompt holds the prefill's words (3 tokens), not a closed turn and a
  // new [INST] (which would add EOS, BOS and markup).
  assert.equal(cont.usage.input_tokens, plain.usage.input_tokens + 3);
  // The next word, with the space that separates it from the prefill.
  assert.match(cont.content[0].text, /^ \S/);
  assert.notEqual(cont.content[0].text, plain.content[0].text);
});

test('consecutive user turns are one turn (a tool result beside text; Llama 2\'s template alternates)', async () => {
  const r = await client.messages.create({
    model: MODEL, max_tokens: 4, temperature: 0, tools: [WEATHER],
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Rome', days: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'Sunny' }, { type: 'text', text: 'Thanks' }] },
    ],
  });
  assert.equal(r.content[0].type, 'text');
  const two = await client.messages.create({
    model: MODEL, max_tokens: 4, temperature: 0,
    messages: [{ role: 'user', content: 'In the' }, { role: 'user', content: 'beginning' }],
  });
  assert.equal(two.stop_reason, 'max_tokens');
});

test('tools: tool_choice any always gives a tool_use whose input validates; results come back', async () => {
  const validate = new Ajv().compile(WEATHER.input_schema);
  for (let i = 0; i < 3; i++) {  // unseeded: three different samples
    const r = await client.messages.create({
      model: MODEL, max_tokens: 60, temperature: 1, messages: [{ role: 'user', content: 'Weather in Rome?' }],
      tools: [WEATHER], tool_choice: { type: 'any' },
    });
    assert.equal(r.stop_reason, 'tool_use', JSON.stringify(r));
    const use = r.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'weather');
    assert.match(use.id, /^toolu_/);
    assert.ok(validate(use.input), `${JSON.stringify(validate.errors)} for ${JSON.stringify(use.input)}`);
  }
  const named = await client.messages.stream({
    model: MODEL, max_tokens: 60, temperature: 0.5, messages: [{ role: 'user', content: 'Weather?' }],
    tools: [WEATHER], tool_choice: { type: 'tool', name: 'weather' },
  }).finalMessage();
  const use = named.content.find((b) => b.type === 'tool_use');
  assert.ok(use && validate(use.input), JSON.stringify(named.content));

  const follow = await client.messages.create({
    model: MODEL, max_tokens: 6, temperature: 0, tools: [WEATHER],
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Rome', days: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'Sunny' }] },
    ],
  });
  assert.equal(follow.content[0].type, 'text');
});

test('tools: disable_parallel_tool_use gives at most one tool_use; an anyOf input_schema is forced', async () => {
  const TIME = { name: 'time', input_schema: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } } } };
  // The bundled model's template teaches no call syntax: a reply that is a
  // JSON array of calls is two calls, and the output format makes it so.
  const req = {
    model: MODEL, max_tokens: 140, temperature: 0, messages: [{ role: 'user', content: 'Time?' }], tools: [TIME],
    output_config: { format: { type: 'json_schema', schema: { const: [{ name: 'time', arguments: { zone: 'UTC' } }, { name: 'time', arguments: { zone: 'CET' } }] } } },
  };
  const zones = (m) => m.content.filter((b) => b.type === 'tool_use').map((b) => b.input.zone);
  assert.deepEqual(zones(await client.messages.create(req)), ['UTC', 'CET']);
  const one = { ...req, tool_choice: { type: 'auto', disable_parallel_tool_use: true } };
  assert.deepEqual(zones(await client.messages.create(one)), ['UTC']);
  assert.deepEqual(zones(await client.messages.stream(one).finalMessage()), ['UTC']);

  const EITHER = {
    name: 'either',
    input_schema: {
      anyOf: [
        { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false },
        { type: 'object', properties: { b: { type: 'integer' } }, required: ['b'], additionalProperties: false },
      ],
    },
  };
  const validate = new Ajv().compile(EITHER.input_schema);
  for (const tool_choice of [{ type: 'any' }, { type: 'tool', name: 'either' }]) {
    const r = await client.messages.create({
      model: MODEL, max_tokens: 60, temperature: 1, messages: [{ role: 'user', content: 'Call it.' }],
      tools: [EITHER], tool_choice,
    });
    const use = r.content.find((b) => b.type === 'tool_use');
    assert.ok(use && validate(use.input), JSON.stringify(r.content));
  }
});

test('structured output: output_config.format\'s JSON schema is enforced (messages.parse)', async () => {
  const schema = {
    type: 'object',
    properties: { book: { type: 'string', maxLength: 12 }, chapter: { type: 'integer', minimum: 1, maximum: 50 } },
    required: ['book', 'chapter'],
    additionalProperties: false,
  };
  const validate = new Ajv().compile(schema);
  for (const seed of [1, 2]) {
    const r = await client.messages.create({
      model: MODEL, max_tokens: 40, temperature: 1, metadata: { user_id: String(seed) },
      messages: [{ role: 'user', content: 'Name a book and chapter.' }],
      output_config: { format: { type: 'json_schema', schema } },
    });
    const value = JSON.parse(r.content[0].text);
    assert.ok(validate(value), `${JSON.stringify(validate.errors)} for ${r.content[0].text}`);
  }
});

test('models: list and retrieve as Anthropic\'s ModelInfo', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes('tiny-kjv:latest'), JSON.stringify(ids));
  for (const m of page.data) {
    assert.equal(m.type, 'model');
    assert.equal(typeof m.display_name, 'string');
    assert.ok(!Number.isNaN(Date.parse(m.created_at)), m.created_at);
  }
  assert.equal(page.has_more, false);
  const one = await client.models.retrieve('tiny-kjv');
  assert.equal(one.type, 'model');
  assert.equal(one.id, 'tiny-kjv');
});

test('structured output: a malformed output_config is a 400 naming the field', async () => {
  const base = { model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'x' }] };
  for (const [output_config, field] of [
    ['json', /output_config/],
    [{ format: { type: 'text' } }, /output_config\.format/],
    [{ format: { type: 'json_schema' } }, /output_config\.format\.schema/],
    [{ format: { type: 'json_schema', schema: 'x' } }, /output_config\.format\.schema/],
    [{ format: { type: 'json_schema', schema: { type: 'string', pattern: '^a$' } } }, /pattern/],
  ]) {
    await assert.rejects(client.messages.create({ ...base, output_config }), (e) => {
      assert.equal(e.status, 400, JSON.stringify(output_config));
      assert.match(e.message, field);
      return true;
    });
  }
});

test('count_tokens counts the rendered prompt', async () => {
  const short = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] });
  const long = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Hi there, how are you today?' }] });
  assert.ok(short.input_tokens > 0);
  assert.ok(long.input_tokens > short.input_tokens);
  const used = await client.messages.create({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(used.usage.input_tokens, short.input_tokens);
  // More than the context holds (256) is still counted: clients ask in order
  // to learn whether to shorten the conversation.
  const long2 = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'and the earth '.repeat(200) }] });
  assert.ok(long2.input_tokens > 600, `${long2.input_tokens}`);
});

test('a tool_result with is_error tells the model the tool failed', async () => {
  const turns = (isError) => [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'timed out', ...(isError === undefined ? {} : { is_error: isError }) }] },
  ];
  const tools = [{ name: 'weather', input_schema: { type: 'object' } }];
  const count = async (isError) => (await client.messages.countTokens({ model: MODEL, tools, messages: turns(isError) })).input_tokens;
  const plain = await count(undefined);
  assert.equal(await count(false), plain);
  assert.ok((await count(true)) > plain, 'the error mark is in the prompt');
  await assert.rejects(client.messages.countTokens({ model: MODEL, tools, messages: turns('yes') }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /is_error/);
    return true;
  });
});

test('errors have Anthropic\'s shape', async () => {
  await assert.rejects(client.messages.create({ model: 'nope', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status, 404);
    assert.ok(e instanceof Anthropic.NotFoundError);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'not_found_error');
    return true;
  });
  await assert.rejects(client.messages.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status, 400);
    assert.ok(e instanceof Anthropic.BadRequestError);
    assert.match(e.message, /max_tokens/);
    return true;
  });
  await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 4, temperature: 3, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 400 && /temperature/.test(e.message));
  await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }] }),
    (e) => e.status === 400 && /image/.test(e.message));
});
