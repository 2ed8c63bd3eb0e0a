/**
 * ClickHouse goes down mid-stream: the worker commits nothing it has not written, keeps retrying,
 * and catches up without loss when ClickHouse returns. Uses a ClickHouse of its own (own ports and
 * folder) so stopping it does not disturb the other tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { migrate } from '../../infra/migrate.ts';
import { clickhouseProcess, startClickhouse } from '../../infra/stack/clickhouse-native.ts';
import { stopProcess } from '../../infra/stack/processes.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import type { Config } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadModels } from '../../models/model-set.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import {
  eventually,
  freshTopics,
  testConfig,
  testKafka,
  uniqueName,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

const home = mkdtempSync(join(tmpdir(), 'hitstream-outage-'));
const id = uniqueName('outage');
const cfg: Config = {
  ...testConfig(),
  home,
  clickhouseHttpPort: 28223,
  clickhouseTcpPort: 29100,
  // Its own HTTPS port too: the main stack's ClickHouse holds the default one.
  clickhouseHttpsPort: 28543,
  clickhouseUrl: 'http://127.0.0.1:28223',
  clickhouseDatabase: 'hitstream',
  topicTracks: `${id}.tracks`,
  topicPredictions: `${id}.predictions`,
  topicDeadLetters: `${id}.dead`,
  consumerGroup: `${id}-scorers`,
};
let worker: Worker;
let dropTopics: () => Promise<void>;
const metrics = createWorkerMetrics();
const log = () => undefined;

before(async () => {
  await startClickhouse(cfg, log);
  await migrate(cfg);
  dropTopics = await freshTopics(cfg, [
    { topic: cfg.topicTracks },
    { topic: cfg.topicPredictions },
    { topic: cfg.topicDeadLetters, numPartitions: 1 },
  ]);
  worker = createWorker(cfg, {
    models: await loadModels(cfg.modelsDir || undefined),
    metrics,
    log: createLogger('test-worker', 'error'),
  });
  await worker.start();
});
after(async () => {
  await worker.stop().catch(() => undefined);
  await stopProcess(clickhouseProcess(cfg));
  await dropTopics();
  rmSync(home, { recursive: true, force: true });
});

async function predictions(): Promise<number> {
  const ch = createClickhouse(cfg);
  try {
    const rs = await ch.query({ query: 'SELECT count() AS n FROM predictions FINAL', format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  } catch {
    return -1;
  } finally {
    await ch.close();
  }
}

async function committed(): Promise<number> {
  const admin = testKafka(cfg).admin();
  await admin.connect();
  const [t] = await admin.fetchOffsets({ groupId: cfg.consumerGroup, topics: [cfg.topicTracks] });
  await admin.disconnect();
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

test('with ClickHouse down nothing is committed; when it returns every event is written once', async () => {
  const publisher = await createPublisher(cfg);
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 200, quiet: true });
  assert.equal(await eventually(predictions, (n) => n >= SCORES_PER_EVENT * 200), SCORES_PER_EVENT * 200);
  assert.equal(await eventually(committed, (n) => n >= 200), 200);

  await stopProcess(clickhouseProcess(cfg));
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 300, quiet: true });
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(await committed(), 200, 'no offset is committed while the writes fail');

  await startClickhouse(cfg, log);
  assert.equal(
    await eventually(predictions, (n) => n >= SCORES_PER_EVENT * 500, 90_000),
    SCORES_PER_EVENT * 500,
    'caught up without loss',
  );
  assert.equal(await eventually(committed, (n) => n >= 500), 500);
  await publisher.close();
});
