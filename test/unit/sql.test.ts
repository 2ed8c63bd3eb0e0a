import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOSTILE_STRINGS } from '../helpers/hostile-strings.ts';
import { ident, sql, sqlIdentifier, sqlLiteral, sqlNumber, sqlString } from '../../lib/sql.ts';

test('sqlString escapes quotes and backslashes so the literal cannot be closed early', () => {
  assert.equal(sqlString("O'Brien"), "'O\\'Brien'");
  assert.equal(sqlString('a\\b'), "'a\\\\b'");
  assert.equal(sqlString("'; DROP TABLE t; --"), "'\\'; DROP TABLE t; --'");
  for (const s of HOSTILE_STRINGS) {
    const lit = sqlString(s);
    // Inside the quotes, every quote must be escaped by an odd run of backslashes.
    const inner = lit.slice(1, -1);
    assert.doesNotMatch(inner.replace(/\\\\/g, ''), /(^|[^\\])'/, `unescaped quote in ${lit}`);
  }
});

test('sqlString encodes control characters', () => {
  assert.equal(sqlString('a\nb\tc\0'), "'a\\nb\\tc\\0'");
});

test('sqlNumber refuses NaN and infinities', () => {
  assert.equal(sqlNumber(1.5), '1.5');
  assert.throws(() => sqlNumber(Number.NaN), /finite/);
  assert.throws(() => sqlNumber(Infinity), /finite/);
});

test('sqlIdentifier accepts plain names and refuses anything else', () => {
  assert.equal(sqlIdentifier('hs_test_1'), 'hs_test_1');
  for (const bad of ['a b', 'a;b', 'x`y', '1abc', '', 'a-b', 'db.table'])
    assert.throws(() => sqlIdentifier(bad), /identifier/);
});

test('sql template renders values as literals and identifiers bare', () => {
  const q = sql`SELECT * FROM ${ident('predictions')} WHERE track_id = ${"x'y"} AND score > ${50} AND model IN ${['rf', 'xgb']}`;
  assert.equal(
    q,
    "SELECT * FROM predictions WHERE track_id = 'x\\'y' AND score > 50 AND model IN ['rf', 'xgb']",
  );
  assert.equal(sqlLiteral(null), 'NULL');
  assert.equal(sqlLiteral(true), '1');
});
