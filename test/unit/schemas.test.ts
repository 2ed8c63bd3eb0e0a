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
