/**
 * `train --from clickhouse`: the labelled events the pipeline stored are a training set. After the
 * sample is replayed twice (every track stored twice, so the copies must collapse), the training
 * matrix read from ClickHouse equals the one from the CSV, and so does a model trained on each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { toMatrix } from '../../models/features.ts';
import { fitPreprocessing, trainingMatrix } from '../../training/context-fit.ts';
import { ARTIFACTS_DIR, loadModels } from '../../models/model-set.ts';
import { createModelStore } from '../../registry/store.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { train } from '../../training/train.ts';
import { loadTrainingData } from '../../training/source.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let worker: Worker;

before(async () => {
  p = await isolatedPipeline();
  worker = createWorker(p.cfg, {
    models: await loadModels(p.cfg.modelsDir || undefined),
    metrics: createWorkerMetrics(),
    log: createLogger('test-worker', 'error'),
  });
  await worker.start();
});
after(async () => {
  await worker.stop();
  await p.cleanup();
});

test('after two replays of the sample, the training matrix from ClickHouse equals the one from the CSV', async () => {
  const publisher = await createPublisher(p.cfg);
  const first = await replayCsv(publisher, { path: SAMPLE, quiet: true });
  await replayCsv(publisher, { path: SAMPLE, quiet: true });
  await publisher.close();
  const stored = await eventually(
    () => p.count('SELECT count() FROM track_events FINAL'),
    (n) => n >= 2 * first.sent,
  );
  assert.equal(stored, 2 * first.sent, 'every track stored twice');

  const csv = await loadTrainingData({ kind: 'csv', path: SAMPLE });
  const ch = await loadTrainingData({ kind: 'clickhouse', cfg: p.cfg });
  assert.equal(ch.readRows, 2 * first.sent);
  assert.equal(ch.rows.length, csv.rows.length, 'the copies collapsed to one row per track and genre');
  for (const withGenre of [false, true]) {
    const y = (rows: typeof csv.rows) => Float32Array.from(rows, (r) => r.popularity);
    const matrix = (rows: typeof csv.rows) => toMatrix(rows, fitPreprocessing(rows, y(rows), withGenre));
    // What the models train on: the artist columns out of fold, by track.
    const training = (rows: typeof csv.rows) =>
      trainingMatrix(rows, y(rows), fitPreprocessing(rows, y(rows), withGenre));
    assert.deepEqual(matrix(ch.rows), matrix(csv.rows), `features${withGenre ? ' with context' : ''}`);
    assert.deepEqual(
      training(ch.rows),
      training(csv.rows),
      `training matrix${withGenre ? ' with context' : ''}`,
    );
    assert.deepEqual(y(ch.rows), y(csv.rows), 'labels');
  }

  const tiny = { models: ['rf' as const], seed: 11, protocols: ['grouped' as const], refit: false };
  const root = mkdtempSync(join(tmpdir(), 'hs-train-ch-'));
  const fromCsv = await train({
    ...tiny,
    data: SAMPLE,
    outDir: join(root, 'csv', 'a'),
    log: () => undefined,
  });
  const fromCh = await train({
    ...tiny,
    source: { kind: 'clickhouse', cfg: p.cfg },
    outDir: join(root, 'ch', 'a'),
    log: () => undefined,
  });
  assert.equal(fromCh.protocols.grouped?.trainRows, fromCsv.protocols.grouped?.trainRows);
  assert.equal(fromCh.protocols.grouped?.rf?.metrics.rmse, fromCsv.protocols.grouped?.rf?.metrics.rmse);
  // The report names the moment its labels were read up to: `--labels-before` reads them again.
  assert.match(
    fromCh.data.path,
    /^clickhouse .*track_events, labelled, labels arrived by \d{4}-\d\d-\d\dT[\d:.]+Z \(--labels-before\)$/,
  );
});

test('from ClickHouse: too few labelled rows, or none in the window, stops with how many were found', async () => {
  await assert.rejects(
    train({
      source: { kind: 'clickhouse', cfg: p.cfg, since: '1s' },
      models: ['rf'],
      seed: 1,
      protocols: ['grouped'],
      minRows: 50,
      log: () => undefined,
    }),
    /labelled, last 1s, labels arrived by \S+ \(--labels-before\): 0 usable labelled rows \(of 0 read\); need at least 50 to train \(--min-rows\)/,
  );
});

test('what `train --push` does: the trained folder becomes a candidate version with its report.json', async () => {
  const ch = createClickhouse(p.cfg);
  try {
    const store = createModelStore(ch);
    const pushed = await store.push(ARTIFACTS_DIR, 'test', undefined, { reportFile: 'models/report.json' });
    const record = await store.get(pushed.version);
    assert.ok(
      record?.files.some((f) => f.path === 'report.json'),
      'the report is one of the version’s files',
    );
    const dir = await store.download(pushed.version, mkdtempSync(join(tmpdir(), 'hs-pushed-')));
    assert.equal(readFileSync(join(dir, 'report.json'), 'utf8'), readFileSync('models/report.json', 'utf8'));
  } finally {
    await ch.close();
  }
});
