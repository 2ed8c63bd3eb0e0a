/** The cluster form of every migration statement: ON CLUSTER, and Replicated engines with a path per table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import { replicatedStatement } from '../../infra/replicated-ddl.ts';

const rewrite = (s: string) => replicatedStatement(s, 'hitstream', 'db1');

test('a ReplacingMergeTree table gets ON CLUSTER and its Replicated engine, the version column kept', () => {
  const out = rewrite(
    'CREATE TABLE IF NOT EXISTS predictions (\n  a String\n) ENGINE = ReplacingMergeTree(scored_at)\nORDER BY a',
  );
  assert.equal(
    out,
    "CREATE TABLE IF NOT EXISTS db1.predictions ON CLUSTER hitstream (\n  a String\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db1/predictions', '{replica}', scored_at)\nORDER BY a",
  );
});

test('engines without arguments, views and the database', () => {
  assert.match(
    rewrite('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree\nORDER BY a'),
    /ON CLUSTER hitstream \(a UInt8\) ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/db1\/t', '\{replica\}'\)\nORDER BY a$/,
  );
  assert.match(
    rewrite('CREATE TABLE IF NOT EXISTS m (a UInt8) ENGINE = AggregatingMergeTree()\nORDER BY a'),
    /ENGINE = ReplicatedAggregatingMergeTree\('\/clickhouse\/tables\/\{shard\}\/db1\/m', '\{replica\}'\)/,
  );
  assert.equal(
    rewrite('CREATE MATERIALIZED VIEW IF NOT EXISTS v TO m AS\nSELECT a FROM t GROUP BY a'),
    'CREATE MATERIALIZED VIEW IF NOT EXISTS db1.v ON CLUSTER hitstream TO db1.m AS\nSELECT a FROM db1.t GROUP BY a',
    "the view's target and source name their database (the other replicas run it in `default`)",
  );
  assert.equal(
    rewrite('CREATE DATABASE IF NOT EXISTS db1 '),
    'CREATE DATABASE IF NOT EXISTS db1 ON CLUSTER hitstream ',
  );
});

test('every shipped migration has a cluster form, and every table in it is replicated', () => {
  for (const m of [...loadMigrations(), { name: 'migrations', statements: [MIGRATIONS_TABLE] }])
    for (const s of m.statements) {
      const out = rewrite(s);
      assert.match(out, /ON CLUSTER hitstream/, m.name);
      if (/ENGINE/.test(s))
        assert.match(out, /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\//, m.name);
    }
});

test('a statement it cannot place ON CLUSTER, and a cluster name that is not an identifier, are refused', () => {
  assert.throws(() => rewrite('ALTER TABLE t ADD COLUMN x UInt8'), /cannot run ON CLUSTER/);
  assert.throws(
    () =>
      replicatedStatement(
        'CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a',
        "x'; DROP",
        'db',
      ),
    /not a plain identifier/,
  );
});
