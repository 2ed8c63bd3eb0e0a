/** The ensemble: its weights (non-negative least squares), its file, and its rows beside the four. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENSEMBLE_FILE, ensembleScores, readEnsemble } from '../../models/ensemble.ts';
import { fitEnsembleWeights } from '../../training/ensemble-fit.ts';
import type { BatchPrediction } from '../../models/model-set.ts';
import { rng } from '../../training/split.ts';
import { MODEL_NAMES, type TrackFeatures } from '../../schemas/index.ts';
import { predictionOrigins, predictionRows, type ScoreVersions, scoredEvents } from '../../warehouse/rows.ts';

test('weights recover a known mix, leave out a model that only hurts, and are never negative', () => {
  const random = rng(7);
  const n = 2000;
  const truth = Float32Array.from({ length: n }, () => random() * 100);
  const rf = truth.map((v) => v + (random() - 0.5) * 20);
  const xgb = truth.map((v) => v + (random() - 0.5) * 30);
  // Anti-correlated with the truth: least squares without the bound would give it a negative weight.
  const mlp = truth.map((v) => 100 - v + (random() - 0.5) * 10);
  const { weights, rmse } = fitEnsembleWeights({ rf, xgb, mlp }, truth);
  for (const w of Object.values(weights)) assert.ok(w >= 0);
  assert.equal(weights.mlp ?? 0, 0, 'the anti-correlated model gets no weight');
  // Independent errors with sd 20/√12 and 30/√12: the best mix weights rf ~9/13 and xgb ~4/13.
  assert.ok(Math.abs(weights.rf! - 9 / 13) < 0.05, `rf ${weights.rf}`);
  assert.ok(Math.abs(weights.xgb! - 4 / 13) < 0.05, `xgb ${weights.xgb}`);
  const single = Math.sqrt(rf.reduce((a, v, i) => a + (v - truth[i]!) ** 2, 0) / n);
  assert.ok(rmse < single, `the mix (${rmse}) beats the best single model (${single})`);
  const scored = ensembleScores({ rf, xgb }, weights);
  assert.equal(scored.length, n);
  assert.ok(
    scored.every((v) => v >= 0 && v <= 100),
    'clipped to 0..100 as served',
  );
});

test('readEnsemble: no file is no ensemble; a bad weight or a missing field is refused, naming it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-ensemble-'));
  assert.equal(await readEnsemble(dir), undefined);
  const good = {
    name: 'ensemble',
    version: 'ensemble-20261203-000000-abc-s1',
    weights: { rf: 0.6, xgb: 0.4 },
    drift: { score: { edges: [50], proportions: [0.5, 0.5] } },
  };
  writeFileSync(join(dir, ENSEMBLE_FILE), JSON.stringify(good));
  assert.deepEqual((await readEnsemble(dir))?.weights, good.weights);
  for (const [weights, field] of [
    [{ rf: -0.1 }, 'weights.rf'],
    [{ lgbm: 1 }, 'weights.lgbm'],
    [{ xgb: '0.5' }, 'weights.xgb'],
  ] as const) {
    writeFileSync(join(dir, ENSEMBLE_FILE), JSON.stringify({ ...good, weights }));
    await assert.rejects(readEnsemble(dir), (err: Error) => err.message.includes(field), field);
  }
  writeFileSync(join(dir, ENSEMBLE_FILE), JSON.stringify({ ...good, drift: undefined }));
  await assert.rejects(readEnsemble(dir), /needs a version, weights and drift\.score/);
  writeFileSync(join(dir, ENSEMBLE_FILE), '{"weights":');
  await assert.rejects(readEnsemble(dir), /is not JSON/);
});

test('rows: a prediction with an ensemble gives five rows per event, each with its version, and five feed scores', () => {
  const names = [...MODEL_NAMES, 'ensemble'] as const;
  const pred = {
    names,
    scores: Object.fromEntries(names.map((m, k) => [m, Float32Array.from([10 + k, 20 + k])])),
    tabnetMasks: new Float32Array(0),
    inferenceUs: Object.fromEntries(names.map((m) => [m, 5])),
  } as unknown as BatchPrediction;
  const versions = Object.fromEntries(names.map((m) => [m, `${m}-run1`])) as ScoreVersions;
  const event = (id: string) => ({
    eventId: id,
    event: { track_id: id, event_time: '2026-12-03T00:00:00.000Z', source: 'replay' } as TrackFeatures,
    origin: { topic: 't', partition: 0, offset: id },
  });
  const batch = [event('a'), event('b')];
  const scoredAt = new Date('2026-12-03T00:00:01.000Z');
  const rows = predictionRows(batch, pred, versions, scoredAt);
  assert.equal(rows.length, 10);
  assert.deepEqual(
    rows.filter((r) => r.model === 'ensemble').map((r) => [r.event_id, r.model_version, r.score]),
    [
      ['a', 'ensemble-run1', 14],
      ['b', 'ensemble-run1', 24],
    ],
  );
  assert.equal(predictionOrigins(batch, pred).length, rows.length, 'one origin per row');
  const [feed] = scoredEvents(batch, pred, { version: 'run1', versions }, scoredAt);
  assert.deepEqual(Object.keys(feed!.scores), [...names]);
  assert.equal(feed!.model_versions.ensemble, 'ensemble-run1');
});
