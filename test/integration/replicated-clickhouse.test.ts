/**
 * Two ClickHouse replicas of one shard with a ZooKeeper (`stack up --clickhouse-replicas 2`),
 * migrated with HITSTREAM_CLICKHOUSE_CLUSTER: every table is Replicated on both. Mid-replay, the
 * replica the worker writes to is SIGKILLed, then restarted: the worker waits and carries on, and
 * afterwards both replicas hold exactly 4·N prediction rows and N events, and the same rollups.
 * Servers and ZooKeeper of its own (own ports and folder); Kafka is the suite's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  clickhouseNodeProcess,
  clickhouseUrlOf,
  startClickhouse,
  startClickhouseNode,
  stopClickhouse,
} from '../../infra/stack/clickhouse-native.ts';
import { runningPid } from '../../infra/stack/processes.ts';
import { migrate } from '../../infra/migrate.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { ident, sql } from '../../lib/sql.ts';
import { loadModels } from '../../models/model-set.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import {
  eventually,
  eventuallyStored,
  deleteOwnTopics,
  clusterTestConfig,
  countOf,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
const home = mkdtempSync(join(tmpdir(), 'hitstream-replicas-'));
const { cfg, servers: replicas } = clusterTestConfig({
  name: 'replicas',
  home,
  shards: 1,
  replicas: 2,
  httpPort: 28623,
  tcpPort: 28600,
  httpsPort: 28643,
  zookeeperPort: 28681,
});
let worker: Worker;

/** A count on one replica, by its URL. */
async function countOn(url: string, query: string): Promise<number> {
  const ch = createClickhouse({ ...cfg, clickhouseUrl: url });
  try {
    return await countOf(ch, query);
  } finally {
    await ch.close();
  }
}

before(async () => {
  await startClickhouse(cfg, () => undefined);
  await migrate(cfg);
  await ensureTopics(cfg);
  worker = createWorker(cfg, {
    models: await loadModels(cfg.modelsDir || undefined),
    metrics: createWorkerMetrics(),
    log: createLogger('test-worker', 'error'),
  });
  await worker.start();
});
after(async () => {
  await worker?.stop().catch(() => undefined);
  const ch = createClickhouse({ ...cfg, clickhouseUrl: clickhouseUrlOf(replicas[1]!) }, { database: null });
  await ch
    .command({ query: sql`DROP DATABASE IF EXISTS ${ident(cfg.clickhouseDatabase)}` })
    .catch(() => undefined);
  await ch.close();
  await stopClickhouse(cfg);
  await deleteOwnTopics(cfg);
  rmSync(home, { recursive: true, force: true });
});

test('migrate with HITSTREAM_CLICKHOUSE_CLUSTER makes every table Replicated on both replicas', async () => {
  for (const r of replicas) {
    const url = clickhouseUrlOf(r);
    const db = cfg.clickhouseDatabase;
    assert.equal(
      await countOn(
        url,
        `SELECT count() FROM system.tables WHERE database = '${db}' AND engine LIKE 'Replicated%'`,
      ),
      await countOn(
        url,
        `SELECT count() FROM system.tables WHERE database = '${db}' AND engine LIKE '%MergeTree'`,
      ),
      `${r.name}: every MergeTree table is Replicated`,
    );
    assert.ok((await countOn(url, `SELECT count() FROM system.replicas WHERE database = '${db}'`)) >= 10);
  }
  assert.deepEqual(await migrate(cfg), [], 'a second migrate applies nothing');
});

test('the replica being written is SIGKILLed mid-replay and restarted: both replicas hold every event exactly once', async () => {
  const publisher = await createPublisher(cfg, { log: createLogger('test-publisher', 'error') });
  const replay = replayCsv(publisher, { path: SAMPLE, rate: 500, quiet: true });
  const written = replicas[0]!;
  await eventually(
    () => countOn(clickhouseUrlOf(written), 'SELECT count() FROM track_events FINAL'),
    (n) => n >= 500,
  );
  process.kill(runningPid(clickhouseNodeProcess(cfg, written))!, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 3000));
  await startClickhouseNode(cfg, written, () => undefined);
  const summary = await replay;
  await publisher.close();
  const N = summary.sent;
  assert.ok(N > 2000 && summary.rejected === 0, JSON.stringify(summary));
  for (const r of replicas) {
    const url = clickhouseUrlOf(r);
    assert.deepEqual(
      await eventuallyStored((q) => countOn(url, q), N, 120_000),
      { predictions: SCORES_PER_EVENT * N, tracks: N },
      `${r.name}: every event stored once`,
    );
    assert.equal(
      await countOn(url, 'SELECT uniqExact(event_id, model) FROM predictions'),
      SCORES_PER_EVENT * N,
      r.name,
    );
  }
  // The rollup's rows come from the materialized view on the replica that took the insert, and
  // reach the other by replication: the same total on both, not twice.
  const rolled = (url: string) => countOn(url, 'SELECT countMerge(predictions) FROM predictions_per_minute');
  const [a, b] = await Promise.all(replicas.map((r) => rolled(clickhouseUrlOf(r))));
  assert.equal(a, b, 'the per-minute rollup agrees on both replicas');
  assert.ok(
    a! >= SCORES_PER_EVENT * N,
    `rollup ${a} counts every stored prediction row (re-deliveries included)`,
  );
});
