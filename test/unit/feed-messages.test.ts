import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readClientMessage } from '../../api/feed/client-messages.ts';

const read = (m: unknown) => readClientMessage(Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)));

test('a subscribe message sets the filters and is echoed; absent, null or empty means no filter', () => {
  const r = read({ type: 'subscribe', genre: 'pop', model: 'xgb', min_score: 50 });
  assert.ok(r.ok);
  assert.deepEqual(r.filter, {
    genre: 'pop',
    model: 'xgb',
    minScore: 50,
    shadow: false,
    explanations: false,
  });
  assert.deepEqual(r.reply, {
    type: 'subscribed',
    genre: 'pop',
    model: 'xgb',
    min_score: 50,
    shadow: false,
    explanations: false,
  });
  const none = read({ type: 'subscribe', genre: '', model: null });
  assert.ok(none.ok);
  assert.deepEqual(none.filter, {
    genre: undefined,
    model: undefined,
    minScore: undefined,
    shadow: false,
    explanations: false,
  });
  const shadow = read({ type: 'subscribe', shadow: true, explanations: true });
  assert.ok(shadow.ok);
  assert.equal(shadow.filter.shadow, true);
  assert.equal(shadow.filter.explanations, true);
});

test('a bad message is refused with the field at fault, and sets nothing', () => {
  const cases: [unknown, string, string][] = [
    ['{bad', 'malformed_json', ''],
    [{ type: 'subscribe', min_score: 'x' }, 'wrong_type', 'min_score'],
    [{ type: 'subscribe', min_score: 120 }, 'out_of_range', 'min_score'],
    [{ type: 'subscribe', genre: 5 }, 'wrong_type', 'genre'],
    [{ type: 'subscribe', model: 'nope' }, 'invalid_value', 'model'],
    [{ type: 'subscribe', genres: 'pop' }, 'unknown_field', 'genres'],
    [{ type: 'hello' }, 'wrong_type', 'type'],
    [{ type: 'subscribe', shadow: 'yes' }, 'wrong_type', 'shadow'],
    [{ type: 'subscribe', explanations: 1 }, 'wrong_type', 'explanations'],
  ];
  for (const [message, code, field] of cases) {
    const r = read(message);
    assert.ok(!r.ok, JSON.stringify(message));
    assert.equal(r.reply.type, 'error');
    assert.equal(r.reply.code, code, JSON.stringify(message));
    assert.equal(r.reply.field ?? '', field, JSON.stringify(message));
    assert.match(r.reply.message, /send \{"type":"subscribe"/);
  }
});
