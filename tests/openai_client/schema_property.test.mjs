// Property: whatever JSON schema (within hearth's supported subset) a client
// sends as response_format, every output parses and validates against it with
// ajv, for every seed. Schemas are drawn at random from a seeded generator
// (HEARTH_SCHEMA_SEED replays a run); each is sampled with several seeds at
// temperature 1, so the tiny model wanders everywhere the grammar allows.
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
const SCHEMAS = 40;
const SEEDS = [1, 2, 3];

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

// mulberry32: a small seeded PRNG, so a failing schema can be replayed.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Schemas whose every valid value is short (the model's context is 256 tokens,
// and a value cut off by max_tokens would not be whole).
function schemaGenerator(rand) {
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  const scalar = () => pick([
    () => ({ type: 'string', maxLength: int(0, 6) }),
    () => ({ type: 'string', minLength: 1, maxLength: int(1, 4) }),
    () => { const lo = int(-40, 5); return { type: 'integer', minimum: lo, maximum: lo + int(0, 60) }; },
    () => ({ type: 'number', minimum: -5, maximum: 5 }),
    () => ({ type: 'boolean' }),
    () => ({ type: 'null' }),
    () => ({ enum: pick([['red', 'green', 'blue'], [1, 2, 3], ['x', 7, null, true]]) }),
    () => ({ const: pick(['fixed', 42, false, { k: 'v' }]) }),
    () => ({ type: ['string', 'null'], maxLength: 4 }),
    () => ({ type: ['integer', 'boolean'], minimum: 0, maximum: 9 }),
  ])();
  const gen = (depth) => {
    if (depth >= 2) return scalar();
    return pick([
      scalar,
      scalar,
      () => ({ type: 'array', items: gen(depth + 1), minItems: int(0, 1), maxItems: int(1, 2) }),
      () => {
        const n = int(1, 3);
        const properties = {};
        for (let i = 0; i < n; i++) properties[`p${i}`] = gen(depth + 1);
        const required = Object.keys(properties).filter(() => rand() < 0.7);
        return { type: 'object', properties, required, additionalProperties: false };
      },
      () => ({ anyOf: [gen(depth + 1), scalar()] }),
      () => ({ oneOf: [{ type: 'integer', minimum: 0, maximum: 3 }, { type: 'string', maxLength: 3 }] }),
    ])();
  };
  return () => {
    const body = gen(0);
    // Half of them go through $defs and $ref.
    if (rand() < 0.5) return { $defs: { item: body }, type: 'object', properties: { item: { $ref: '#/$defs/item' } }, required: ['item'], additionalProperties: false };
    return body;
  };
}

test('every structured output validates against its schema (random schemas, several seeds)', async () => {
  const seed = Number(process.env.HEARTH_SCHEMA_SEED || 20261201);
  const next = schemaGenerator(prng(seed));
  const ajv = new Ajv({ strict: false });
  const schemas = Array.from({ length: SCHEMAS }, next);
  let checked = 0;
  for (const [i, schema] of schemas.entries()) {
    const validate = ajv.compile(schema);
    // The seeds of one schema run side by side (the server batches them).
    const results = await Promise.all(SEEDS.map((s) => client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'JSON:' }], max_tokens: 160, temperature: 1, seed: s,
      response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema } },
    })));
    for (const [k, r] of results.entries()) {
      const what = `schema ${i} (HEARTH_SCHEMA_SEED=${seed}) ${JSON.stringify(schema)}, seed ${SEEDS[k]}: ${r.choices[0].message.content}`;
      assert.equal(r.choices[0].finish_reason, 'stop', what);
      let value;
      assert.doesNotThrow(() => { value = JSON.parse(r.choices[0].message.content); }, what);
      assert.ok(validate(value), `${what}\n${JSON.stringify(validate.errors)}`);
      checked++;
    }
  }
  assert.equal(checked, SCHEMAS * SEEDS.length);
});
