/** Ensemble weights: non-negative least squares over the models' validation scores. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensembleScores, fitEnsembleWeights } from '../../models/ensemble.ts';
import { rng } from '../../models/split.ts';

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
