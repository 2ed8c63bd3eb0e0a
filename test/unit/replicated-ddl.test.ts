/** The cluster form of every migration statement: ON CLUSTER, and Replicated engines with a path per table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import { clusterStatements, replicatedStatement } from '../../infra/replicated-ddl.ts';

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

const sharded = (s: string) => clusterStatements(s, 'hitstream', 'db1', 2);

test('with two shards a table is `<name>_local` (Replicated) plus a Distributed `<name>` placed by its ORDER BY key', () => {
  const [local, distributed, ...rest] = sharded(
    'CREATE TABLE IF NOT EXISTS predictions (\n  a String\n) ENGINE = ReplacingMergeTree(scored_at)\nORDER BY (event_id, model)',
  );
  assert.equal(rest.length, 0);
  assert.equal(
    local,
    "CREATE TABLE IF NOT EXISTS db1.predictions_local ON CLUSTER hitstream (\n  a String\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db1/predictions_local', '{replica}', scored_at)\nORDER BY (event_id, model)",
  );
  assert.equal(
    distributed,
    "CREATE TABLE IF NOT EXISTS db1.predictions ON CLUSTER hitstream AS db1.predictions_local ENGINE = Distributed('hitstream', 'db1', 'predictions_local', cityHash64(event_id, model))",
  );
  assert.match(
    sharded('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree\nORDER BY a')[1]!,
    /Distributed\('hitstream', 'db1', 't_local', cityHash64\(a\)\)$/,
  );
});

test("with two shards a materialized view reads and writes the shard's own tables", () => {
  assert.deepEqual(sharded('CREATE MATERIALIZED VIEW IF NOT EXISTS v TO m AS\nSELECT a FROM t GROUP BY a'), [
    'CREATE MATERIALIZED VIEW IF NOT EXISTS db1.v ON CLUSTER hitstream TO db1.m_local AS\nSELECT a FROM db1.t_local GROUP BY a',
  ]);
  assert.deepEqual(sharded('CREATE DATABASE IF NOT EXISTS db1 '), [
    'CREATE DATABASE IF NOT EXISTS db1 ON CLUSTER hitstream ',
  ]);
});

test('every shipped table has a sharded form; one shard gives the replicated statement alone', () => {
  for (const m of [...loadMigrations(), { name: 'migrations', statements: [MIGRATIONS_TABLE] }])
    for (const s of m.statements) {
      assert.deepEqual(clusterStatements(s, 'hitstream', 'db1', 1), [rewrite(s)], m.name);
      const out = sharded(s);
      if (/^CREATE TABLE/.test(s)) assert.match(out[1]!, /ENGINE = Distributed\(/, m.name);
    }
  assert.throws(() => sharded('CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Log'), /without ORDER BY/);
});
