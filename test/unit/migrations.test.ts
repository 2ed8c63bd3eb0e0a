import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMigrations, splitStatements } from '../../infra/migrate.ts';

test('splitStatements drops comments and splits on a semicolon ending a line', () => {
  const s = splitStatements(
    "-- a comment; with a semicolon\nCREATE TABLE a (x String);\n\nSELECT ';' AS s;\n",
  );
  assert.deepEqual(s, ['CREATE TABLE a (x String)', "SELECT ';' AS s"]);
});

test('migrations are numbered without gaps and idempotent by construction', () => {
  const ms = loadMigrations();
  assert.deepEqual(
    ms.map((m) => m.version),
    ms.map((_, i) => i + 1),
  );
  for (const m of ms)
    for (const st of m.statements)
      assert.match(st, /^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS /, `${m.name}: ${st.slice(0, 60)}`);
});

test('no migration uses what ClickHouse 18.16 lacks', () => {
  for (const m of loadMigrations())
    for (const st of m.statements)
      assert.doesNotMatch(st, /LowCardinality|DateTime64|\bTTL\b|toStartOfInterval|\{\w+:\w+\}/, m.name);
});
