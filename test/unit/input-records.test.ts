import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRecords } from '../../producers/input-records.ts';

test('NDJSON: one record per line, an array line gives several, blank lines are skipped', () => {
  const records = parseRecords('{"track_id":"a"}\n\n[{"track_id":"b"},{"track_id":"c"}]\n');
  assert.deepEqual(
    records.map((r) => r.ok && (r.value as { track_id: string }).track_id),
    ['a', 'b', 'c'],
  );
});

test('a line that is not JSON is a rejected record in its place; the others are kept', () => {
  const records = parseRecords('{"track_id":"a"}\n\n{bad\n{"track_id":"c"}');
  assert.equal(records.length, 3);
  assert.ok(records[0]!.ok && records[2]!.ok);
  const bad = records[1]!;
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, 'malformed_json');
  assert.match(bad.error.message, /^line 3: not JSON: /, 'numbered as in the input, blank lines too');
});

test('one pretty-printed object or array spanning lines is one input', () => {
  assert.equal(parseRecords('[\n  {"track_id": "a"},\n  {"track_id": "b"}\n]').length, 2);
  const pretty = parseRecords('{\n  "track_id": "a",\n  "energy": 0.5\n}\n');
  assert.deepEqual(pretty, [{ ok: true, value: { track_id: 'a', energy: 0.5 } }]);
  assert.deepEqual(parseRecords('  \n'), []);
});
