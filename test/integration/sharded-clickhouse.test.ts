/**
 * Two ClickHouse shards (`stack up --clickhouse-shards 2`, one server each, a ZooKeeper), migrated
 * with HITSTREAM_CLICKHOUSE_CLUSTER: each table is `<table>_local` on both servers and a
 * Distributed `<table>` over them. A worker stores a replay through the Distributed tables; every
 * row is stored once more (what re-delivered events do), and the reads stay exact: FINAL applies
 * per shard, and every copy of a row is on the same shard. The API's answers from the two shards
 * equal those from one server holding the same inserts.
 * Servers and ZooKeeper of its own (own ports and folder); Kafka and the single server are the suite's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildApp } from '../../api/app.ts';
import { FeedHub } from '../../api/feed/hub.ts';
import { storageReader } from '../../api/storage.ts';
import { clickhouseUrlOf, startClickhouse, stopClickhouse } from '../../infra/stack/clickhouse-native.ts';
import { migrate } from '../../infra/migrate.ts';
import type { Config } from '../../lib/config.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadModels, type LoadedModels } from '../../models/model-set.ts';
import { versionOf } from '../../registry/serving.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { apiReadUrls, assertSameJson, baseTables } from '../helpers/same-answers.ts';
import {
  eventuallyStored,
  freshDatabase,
  testConfig,
  deleteOwnTopics,
  clusterTestConfig,
  countOf,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
const N = 600;
const home = mkdtempSync(join(tmpdir(), 'hitstream-shards-'));
const { cfg, servers: shards } = clusterTestConfig({
  name: 'shards',
  home,
  shards: 2,
  replicas: 1,
  httpPort: 27623,
  tcpPort: 27600,
  httpsPort: 27643,
  zookeeperPort: 27681,
});
let worker: Worker;
let models: LoadedModels;
let sharded: ClickHouseClient;
/** One server (the suite's) that gets the same inserts, to compare answers with. */
let single: Awaited<ReturnType<typeof freshDatabase>>;

/** A client of one shard's server, by its place in `shards`. */
const shardClient = (i: number) => createClickhouse({ ...cfg, clickhouseUrl: clickhouseUrlOf(shards[i]!) });

before(async () => {
  await startClickhouse(cfg, () => undefined);
  await migrate(cfg);
  sharded = createClickhouse(cfg);
  single = await freshDatabase(testConfig());
  await ensureTopics(cfg);
  models = await loadModels(cfg.modelsDir || undefined);
  worker = createWorker(cfg, {
    models,
    metrics: createWorkerMetrics(),
    log: createLogger('test-worker', 'error'),
  });
  await worker.start();
});
after(async () => {
  await worker?.stop().catch(() => undefined);
  await sharded?.close();
  await single?.client.close();
  await single?.drop().catch(() => undefined);
  await stopClickhouse(cfg);
  await deleteOwnTopics(cfg);
  rmSync(home, { recursive: true, force: true });
});

test('migrate with two shards: every table is Distributed over Replicated `_local` tables on both servers', async () => {
  const db = cfg.clickhouseDatabase;
  for (const i of [0, 1]) {
    const ch = shardClient(i);
    const engines = await (
      await ch.query({
        query: `SELECT name, engine FROM system.tables WHERE database = '${db}' AND engine != 'MaterializedView'`,
        format: 'JSONEachRow',
      })
    ).json<{ name: string; engine: string }>();
    await ch.close();
    const local = engines.filter((t) => t.name.endsWith('_local'));
    assert.ok(local.length >= 10, `${shards[i]!.name}: ${local.length} local tables`);
    for (const t of local) assert.match(t.engine, /^Replicated\w*MergeTree$/, t.name);
    for (const t of engines.filter((e) => !e.name.endsWith('_local')))
      assert.equal(t.engine, 'Distributed', `${t.name} on ${shards[i]!.name}`);
  }
  assert.deepEqual(await migrate(cfg), [], 'a second migrate applies nothing');
});

test('a replay through the Distributed tables: exact counts, rows on both shards, still exact when every row is stored twice', async () => {
  const publisher = await createPublisher(cfg, { log: createLogger('test-publisher', 'error') });
  const summary = await replayCsv(publisher, { path: SAMPLE, limit: N, quiet: true });
  await publisher.close();
  assert.equal(summary.sent, N);
  const count = (q: string) => countOf(sharded, q);
  assert.deepEqual(await eventuallyStored(count, N, 90_000), {
    predictions: SCORES_PER_EVENT * N,
    tracks: N,
  });

  const perShard = [];
  for (const i of [0, 1]) {
    const ch = shardClient(i);
    perShard.push(await countOf(ch, 'SELECT count() FROM track_events_local FINAL'));
    await ch.close();
  }
  assert.ok(
    perShard.every((n) => n > N / 4),
    `both shards hold events: ${perShard.join(' + ')}`,
  );
  assert.equal(perShard[0]! + perShard[1]!, N, 'each event on one shard only');

  // The drift references, then a second copy of every row, on both setups (the single server
  // gets its first copy here): the rollups count both copies alike, FINAL must collapse them.
  await writeDriftReferences(sharded, versionOf(models), models);
  const tables = baseTables();
  const rowsOf = new Map<string, Record<string, unknown>[]>();
  for (const table of tables)
    rowsOf.set(
      table,
      await (await sharded.query({ query: `SELECT * FROM ${table}`, format: 'JSONEachRow' })).json(),
    );
  for (const client of [single.client, single.client, sharded])
    for (const table of tables) {
      const values = rowsOf.get(table)!;
      if (values.length) await client.insert({ table, values, format: 'JSONEachRow' });
    }
  assert.ok((await count('SELECT count() FROM predictions')) >= 8 * N - 1, 'two copies stored');
  assert.equal(await count('SELECT count() FROM predictions FINAL'), SCORES_PER_EVENT * N);
  assert.equal(await count('SELECT count() FROM track_events FINAL'), N);
  assert.equal(await count('SELECT uniqExact(event_id, model) FROM predictions'), SCORES_PER_EVENT * N);
});

test("the API's answers from two shards equal those from one server with the same rows", async () => {
  const [track] = await (
    await sharded.query({ query: 'SELECT track_id FROM track_events LIMIT 1', format: 'JSONEachRow' })
  ).json<{ track_id: string }>();
  assert.ok(track, 'the previous test stored tracks');
  const deps = {
    cfg: { ...cfg, logLevel: 'warn' as const },
    models,
    publisher: { close: () => Promise.resolve() } as never,
    clickhouse: sharded,
    hub: new FeedHub(),
    feedReady: () => true,
  };
  const answers = async (client: ClickHouseClient, dbCfg: Config) => {
    const app = await buildApp({ ...deps, clickhouse: client, storage: storageReader(client, dbCfg) });
    const out: unknown[] = [];
    for (const url of apiReadUrls(track.track_id, versionOf(models))) {
      const r = await app.inject({ url });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      out.push(r.json());
    }
    await app.close();
    return out;
  };
  const fromShards = await answers(sharded, cfg);
  const fromOne = await answers(single.client, single.cfg);
  const urls = apiReadUrls(track.track_id, versionOf(models));
  fromOne.forEach((a, i) => assertSameJson(a, fromShards[i], urls[i]!));
  assert.ok(JSON.stringify(fromShards).includes('psi'), 'drift answered with values');
});
