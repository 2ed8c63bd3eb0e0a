/**
 * Dynamic batching of `POST /predict` (api/predict-batcher.ts) with the shipped models: requests
 * scored together each get their own row, in order, the same as scored alone; a lone request is
 * answered at once; batches stop at the maximum; a failed batch fails its requests only.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createPredictBatcher } from '../../api/predict-batcher.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import type { FeatureRow } from '../../models/features.ts';
import { ARTIFACTS_DIR, type LoadedModels, loadModels } from '../../models/model-set.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';

let models: LoadedModels;
let rows: FeatureRow[];

before(async () => {
  models = await loadModels(ARTIFACTS_DIR);
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 200 });
  rows = tracks.map((t) => trackEventFromCsv(t, new Date().toISOString()) as unknown as FeatureRow);
});

test('requests scored together each get their own scores and mask, in order, as if scored alone', async () => {
  const batcher = createPredictBatcher({ maxBatch: 256, windowMs: 0 });
  const answers = await Promise.all(rows.slice(0, 100).map((r) => batcher.score(models, r)));
  assert.ok(
    answers.every((a) => a.batchSize === 100),
    'one batch of 100',
  );
  for (const [i, a] of answers.entries()) {
    const alone = await models.predictBatch([rows[i]!]);
    for (const m of alone.names)
      assert.ok(
        Math.abs(a.scores[m]! - alone.scores[m]![0]!) < 1e-3,
        `row ${i} ${m}: ${a.scores[m]} vs ${alone.scores[m]![0]}`,
      );
    for (let j = 0; j < alone.tabnetMasks.length; j++)
      assert.ok(Math.abs(a.mask[j]! - alone.tabnetMasks[j]!) < 1e-4, `row ${i} mask ${j}`);
  }
});

test('a lone request is scored at once, alone', async () => {
  const batcher = createPredictBatcher({ maxBatch: 256, windowMs: 0 });
  const a = await batcher.score(models, rows[0]!);
  assert.equal(a.batchSize, 1);
});

test('batches stop at the maximum; what waits goes in the next', async () => {
  const batcher = createPredictBatcher({ maxBatch: 16, windowMs: 0 });
  const answers = await Promise.all(rows.slice(0, 40).map((r) => batcher.score(models, r)));
  const sizes = answers.map((a) => a.batchSize);
  assert.deepEqual(
    [...new Set(sizes)].sort((a, b) => a - b),
    [8, 16],
  );
  assert.equal(sizes.filter((s) => s === 16).length, 32);
});

test('a batch that fails fails its own requests; the next batch is scored', async () => {
  let calls = 0;
  const flaky = {
    ...models,
    predictBatch: (r: readonly FeatureRow[]) =>
      ++calls === 1 ? Promise.reject(new Error('wasm trap')) : models.predictBatch(r),
  };
  const batcher = createPredictBatcher({ maxBatch: 256, windowMs: 0 });
  const first = await Promise.allSettled(rows.slice(0, 5).map((r) => batcher.score(flaky, r)));
  assert.ok(first.every((x) => x.status === 'rejected' && /wasm trap/.test(String(x.reason))));
  const again = await batcher.score(flaky, rows[0]!);
  assert.equal(again.batchSize, 1);
});

test('two model sets (live and shadow) are never mixed in one batch', async () => {
  const seen: number[] = [];
  const shadow = {
    ...models,
    predictBatch: (r: readonly FeatureRow[]) => (seen.push(r.length), models.predictBatch(r)),
  };
  const batcher = createPredictBatcher({ maxBatch: 256, windowMs: 0 });
  const answers = await Promise.all(
    rows.slice(0, 20).map((r, i) => batcher.score(i % 2 ? shadow : models, r)),
  );
  assert.deepEqual(seen, [10]);
  assert.ok(answers.every((a) => a.batchSize === 10));
});

test('with a window, requests arriving within it are batched together', async () => {
  const batcher = createPredictBatcher({ maxBatch: 256, windowMs: 15 });
  const first = batcher.score(models, rows[0]!);
  await new Promise((r) => setTimeout(r, 5));
  const second = batcher.score(models, rows[1]!);
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual([a.batchSize, b.batchSize], [2, 2]);
});
