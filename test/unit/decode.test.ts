import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { deadLetterFor, decodeTrackMessage, eventIdOf, MAX_EVENT_BYTES } from '../../scorers/decode.ts';
import { EVENT_ID_HEADER } from '../../schemas/index.ts';
import { findInvalidText } from '../../schemas/json-text.ts';

const good = (
  JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: Record<string, unknown>;
  }
).value;
const msg = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

test('a valid event decodes', () => {
  const d = decodeTrackMessage(msg(good));
  assert.ok(d.ok);
  assert.equal(d.event.track_id, good.track_id);
});

const cases: [string, Buffer | null, string, string][] = [
  ['empty value', Buffer.alloc(0), 'empty_message', ''],
  ['null value (tombstone)', null, 'empty_message', ''],
  ['oversized', Buffer.alloc(MAX_EVENT_BYTES + 1, 0x20), 'oversized_message', ''],
  ['malformed JSON', msg('{"track_id": "x", '), 'malformed_json', ''],
  ['a JSON array', msg([good]), 'wrong_type', ''],
  ['missing field', msg({ ...good, energy: undefined }), 'missing_field', 'energy'],
  ['wrong type', msg({ ...good, tempo: 'fast' }), 'wrong_type', 'tempo'],
  ['out of range', msg({ ...good, valence: 1.5 }), 'out_of_range', 'valence'],
  ['unknown field', msg({ ...good, colour: 'red' }), 'unknown_field', 'colour'],
  ['JSON 5,000 levels deep', msg(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`), 'too_deep', ''],
  [
    'a deep value in a known field',
    msg({ ...good, track_name: [[[[[[[[[[[[[[[[[['x']]]]]]]]]]]]]]]]]] }),
    'too_deep',
    '',
  ],
  ['a lone surrogate in track_id', msg({ ...good, track_id: 'x\ud800' }), 'invalid_text', 'track_id'],
  ['a lone low surrogate in artists', msg({ ...good, artists: '\udc00' }), 'invalid_text', 'artists'],
  ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'invalid_text', ''],
];

test('a well-formed surrogate pair (an emoji) is text, not invalid_text', () => {
  const d = decodeTrackMessage(msg({ ...good, track_name: 'hit 🎵' }));
  assert.ok(d.ok);
});

test('brackets inside strings do not count as depth', () => {
  const d = decodeTrackMessage(msg({ ...good, track_name: '{'.repeat(100) + '[\\"'.repeat(50) }));
  assert.ok(d.ok, d.ok ? '' : d.message);
});
for (const [name, value, code, field] of cases) {
  test(`${name} is rejected as ${code}${field ? ` naming ${field}` : ''}`, () => {
    const d = decodeTrackMessage(value);
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.equal(d.code, code);
    assert.equal(d.field, field);
    assert.ok(d.message.length > 0);
  });
}

test('a dead letter keeps the whole payload; binary payloads as base64', () => {
  const bin = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
  const d = decodeTrackMessage(bin);
  assert.equal(d.ok, false);
  if (d.ok) return;
  const dl = deadLetterFor(
    d,
    { value: bin, key: Buffer.from('k1'), offset: '42' },
    'tracks',
    3,
    new Date('2026-01-01T00:00:00Z'),
  );
  assert.equal(dl.payload_encoding, 'base64');
  assert.deepEqual(Buffer.from(dl.payload, 'base64'), bin);
  assert.equal(dl.payload_bytes, 4);
  assert.deepEqual([dl.topic, dl.partition, dl.offset, dl.key], ['tracks', 3, '42', 'k1']);
  const text = deadLetterFor(
    { ok: false, code: 'malformed_json', message: 'x', field: '' },
    { value: msg('{oops'), key: null, offset: '7' },
    't',
    0,
    new Date(),
  );
  assert.equal(text.payload, '{oops');
  assert.equal(text.payload_encoding, 'utf8');
});

test("event ids come from the publisher's header, else from the Kafka position", () => {
  const headers = { [EVENT_ID_HEADER]: Buffer.from('3f2c9a8e-1b7d-4c55-9e0a-2b1f6d7c8e90') };
  // Two copies of one send (a producer retry) at different offsets are one event.
  assert.equal(eventIdOf('t', 2, { offset: '10', headers }), eventIdOf('t', 3, { offset: '99', headers }));
  assert.equal(eventIdOf('t', 2, { offset: '10', headers }), '3f2c9a8e-1b7d-4c55-9e0a-2b1f6d7c8e90');
  assert.equal(eventIdOf('t', 2, { offset: '10' }), eventIdOf('t', 2, { offset: '10' }));
  assert.notEqual(eventIdOf('t', 2, { offset: '10' }), eventIdOf('t', 3, { offset: '10' }));
  for (const bad of ['', 'a b', "x'; DROP", 'é', 'x'.repeat(129)])
    assert.equal(
      eventIdOf('t', 2, { offset: '10', headers: { [EVENT_ID_HEADER]: Buffer.from(bad) } }),
      't-2-10',
      `header ${JSON.stringify(bad)} is not used as an id`,
    );
});

test('a lone surrogate is named by its dotted path, in keys and values, nested and in arrays', () => {
  assert.equal(findInvalidText({ a: 1, b: 'ok', c: true, d: null }), undefined);
  assert.equal(findInvalidText('x\ud800'), '');
  assert.equal(findInvalidText({ a: { b: ['ok', 'x\udc00'] } }), 'a.b.1');
  assert.equal(findInvalidText({ a: { ['k\ud800']: 1 } }), 'a.k\ud800');
  assert.equal(findInvalidText({ a: 'fine 😀', b: { c: 'x\ud800' }, d: 'y\ud800' }), 'b.c');
});
