import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SCHEMAS, validate } from '../../schemas/index.ts';

interface Example {
  schema: keyof typeof SCHEMAS;
  value: unknown;
  expect?: { field: string; code: string };
}
const load = (dir: string) =>
  readdirSync(`schemas/examples/${dir}`).map(
    (f) => [f, JSON.parse(readFileSync(`schemas/examples/${dir}/${f}`, 'utf8')) as Example] as const,
  );

for (const [file, ex] of load('good')) {
  test(`good example ${file} passes ${ex.schema}`, () => {
    const r = validate(SCHEMAS[ex.schema], ex.value);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  });
}

for (const [file, ex] of load('bad')) {
  test(`bad example ${file} is rejected naming ${ex.expect?.field}`, () => {
    const r = validate(SCHEMAS[ex.schema], ex.value);
    assert.equal(r.ok, false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.field === ex.expect?.field);
    assert.ok(hit, `no error names ${ex.expect?.field}: ${JSON.stringify(r.errors)}`);
    assert.equal(hit.code, ex.expect?.code);
    assert.match(hit.message, new RegExp(`^${ex.expect?.field}`));
  });
}

test('there are bad examples for every kind of field error', () => {
  const codes = new Set(load('bad').map(([, ex]) => ex.expect?.code));
  for (const c of ['missing_field', 'wrong_type', 'out_of_range', 'unknown_field', 'invalid_value'])
    assert.ok(codes.has(c), c);
});

test('jsonDepthExceeds: exact at the limit, with braces and brackets inside strings, for random nesting', async () => {
  const { jsonDepthExceeds } = await import('../../schemas/json-text.ts');
  const fc = (await import('fast-check')).default;
  const depthOf = (v: unknown): number =>
    typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;
  const nested = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ unit: fc.constantFrom('{', '[', '}', ']', '"', '\\', 'a') }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 3 }),
    ),
  })).value;
  fc.assert(
    fc.property(nested, fc.integer({ min: 0, max: 6 }), (v, limit) => {
      const text = JSON.stringify(v);
      assert.equal(jsonDepthExceeds(text, limit), depthOf(v) > limit, text);
    }),
    { seed: 20261204, numRuns: 500 },
  );
});
