/**
 * The broker restarts mid-stream: the worker's consumer and producer, the publisher and the live
 * feed's consumer reconnect on their own and carry on, every event is scored exactly once, and the
 * feed shows every prediction, before and after. (Here the feed rejoins before the worker publishes
 * again, so this passes with or without the feed's committed position; the position matters
 * when predictions arrive between the broker's return and the feed's rejoin.)
 * Uses a Kafka of its own (own ports and folder) so restarting it does not disturb the other tests.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPredictionsSource } from '../../api/feed/predictions-source.ts';
import { kafkaProcess, startKafka } from '../../infra/stack/kafka-native.ts';
import { stackPaths } from '../../infra/stack/paths.ts';
import { stopProcess } from '../../infra/stack/processes.ts';
import type { Config } from '../../lib/config.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadModels } from '../../models/model-set.ts';
import { createPublisher, type Publisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { eventually, freshDatabase, testConfig, uniqueName, SCORES_PER_EVENT } from '../helpers/services.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
const home = mkdtempSync(join(tmpdir(), 'hitstream-kafka-restart-'));
const id = uniqueName('restart');
const shared = testConfig();
const cfg: Config = {
  ...shared,
  home,
  kafkaPort: 29192,
  kafkaControllerPort: 29193,
  // Its own secure listeners too: the main stack's broker holds the default ports.
  kafkaSaslSslPort: 29194,
  kafkaMtlsPort: 29195,
  kafkaHeapMb: 512,
  kafkaBrokers: ['127.0.0.1:29192'],
  topicTracks: `${id}.tracks`,
  topicPredictions: `${id}.predictions`,
  topicDeadLetters: `${id}.dead`,
  consumerGroup: `${id}-scorers`,
};
let worker: Worker;
let publisher: Publisher;
let feed: Awaited<ReturnType<typeof startPredictionsSource>>;
/** Event ids of the predictions the live feed's consumer handed over. */
const fed = new Set<string>();
let dropDatabase: () => Promise<void>;
const log = () => undefined;

before(async () => {
  // Reuse the jars the main stack already fetched, if it did, instead of a second Maven copy.
  const jars = stackPaths(shared).kafkaLib;
  if (existsSync(jars)) {
    mkdirSync(dirname(stackPaths(cfg).kafkaLib), { recursive: true });
    symlinkSync(jars, stackPaths(cfg).kafkaLib);
  }
  await startKafka(cfg, log);
  const db = await freshDatabase(cfg);
  cfg.clickhouseDatabase = db.database;
  dropDatabase = async () => {
    await db.client.close();
    await db.drop();
  };
  await ensureTopics(cfg);
  worker = createWorker(cfg, {
    models: await loadModels(cfg.modelsDir || undefined),
    metrics: createWorkerMetrics(),
    log: createLogger('test-worker', 'error'),
  });
  await worker.start();
  feed = await startPredictionsSource(cfg, createLogger('test-feed', 'error'), (events) => {
    for (const e of events) fed.add(e.event_id);
  });
  await eventually(
    () => Promise.resolve(feed.ready()),
    (ready) => ready,
  );
  publisher = await createPublisher(cfg);
});
after(async () => {
  await publisher?.close().catch(() => undefined);
  await feed?.stop().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await stopProcess(kafkaProcess(cfg));
  await dropDatabase?.();
  rmSync(home, { recursive: true, force: true });
});

async function count(table: string): Promise<number> {
  const ch = createClickhouse(cfg);
  try {
    const rs = await ch.query({ query: `SELECT count() AS n FROM ${table} FINAL`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  } finally {
    await ch.close();
  }
}

async function eventIds(): Promise<Set<string>> {
  const ch = createClickhouse(cfg);
  try {
    const rs = await ch.query({ query: 'SELECT event_id FROM track_events FINAL', format: 'JSONEachRow' });
    return new Set((await rs.json<{ event_id: string }>()).map((r) => r.event_id));
  } finally {
    await ch.close();
  }
}

test('after a broker restart the worker, the publisher and the feed carry on, and nothing is lost or doubled', async () => {
  await replayCsv(publisher, { path: SAMPLE, limit: 150, quiet: true });
  assert.equal(
    await eventually(
      () => count('predictions'),
      (n) => n >= SCORES_PER_EVENT * 150,
    ),
    SCORES_PER_EVENT * 150,
  );
  // Past the feed's commit interval, so its position is on the broker before it goes down.
  await eventually(
    () => Promise.resolve(fed.size),
    (n) => n >= 150,
  );
  await new Promise((r) => setTimeout(r, 2000));

  assert.ok(await stopProcess(kafkaProcess(cfg)), 'the broker stopped');
  await new Promise((r) => setTimeout(r, 2000));
  await startKafka(cfg, log);

  // Same publisher and worker objects as before the restart: they must reconnect by themselves.
  const r = await replayCsv(publisher, { path: SAMPLE, limit: 150, quiet: true });
  assert.equal(r.sent, 150);
  assert.equal(
    await eventually(
      () => count('predictions'),
      (n) => n >= SCORES_PER_EVENT * 300,
      120_000,
    ),
    SCORES_PER_EVENT * 300,
    'the events sent after the restart are scored',
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await count('predictions'), SCORES_PER_EVENT * 300, 'no event scored twice into extra rows');
  // The tables of one write are inserted concurrently: the track rows may land a moment later.
  assert.equal(
    await eventually(
      () => count('track_events'),
      (n) => n >= 300,
    ),
    300,
  );
  const stored = await eventIds();
  await eventually(
    () => Promise.resolve(fed.size),
    (n) => n >= 300,
    60_000,
  );
  assert.deepEqual([...fed].sort(), [...stored].sort(), 'the feed showed every prediction, before and after');
});
