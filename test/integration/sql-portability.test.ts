/**
 * Every SQL statement the project owns runs on both engines it must support: the real 18.16 server
 * (the migration test above) and a current ClickHouse (chdb, in-process).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import { sql } from '../../lib/sql.ts';
import { runOnChdb } from '../sql/chdb.ts';
import { HOSTILE_STRINGS } from '../helpers/hostile-strings.ts';

test('every migration statement runs on a current ClickHouse (chdb)', () => {
  const statements = [MIGRATIONS_TABLE, ...loadMigrations().flatMap((m) => m.statements)];
  const results = runOnChdb(statements);
  assert.equal(results.length, statements.length);
  for (const r of results) assert.ok(r.ok, `statement ${r.i} failed on chdb: ${r.error}\n${statements[r.i]}`);
});

test('hostile strings survive a round trip on chdb too', () => {
  const results = runOnChdb(HOSTILE_STRINGS.map((s) => sql`SELECT ${s} AS s`));
  results.forEach((r, i) => assert.equal(r.rows?.[0]?.s, HOSTILE_STRINGS[i], r.error));
});
