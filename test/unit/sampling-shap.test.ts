/** Permutation-sampled Shapley values (models/explain/sampling-shap.ts): exact where the answer is known. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { samplingPlan, samplingRows, samplingValues } from '../../models/explain/sampling-shap.ts';
import { rng } from '../../training/split.ts';

const f = 5;
const random = rng(3);
const background = Float32Array.from({ length: 8 * f }, () => random() * 4);
const X = Float32Array.from({ length: 3 * f }, () => random() * 4);

function explain(model: (z: Float32Array) => number) {
  const plan = samplingPlan(background, f);
  const rows = samplingRows(plan, X);
  const scores = Float64Array.from({ length: rows.length / f }, (_, i) =>
    model(rows.subarray(i * f, i * f + f)),
  );
  return samplingValues(plan, scores, X.length / f);
}

test('a linear model: φ_j = a_j (x_j − mean background x_j) exactly, whatever the permutations', () => {
  const a = [1.5, -2, 0, 0.25, 3];
  const values = explain((z) => a.reduce((s, w, j) => s + w * z[j]!, 7));
  const B = background.length / f;
  values.forEach((v, i) =>
    a.forEach((w, j) => {
      let mean = 0;
      for (let b = 0; b < B; b++) mean += background[b * f + j]! / B;
      assert.ok(Math.abs(v.phi[j]! - w * (X[i * f + j]! - mean)) < 1e-9, `row ${i} feature ${j}`);
    }),
  );
});

test('any model: base + Σφ = f(x), base = the mean output on the background', () => {
  const model = (z: Float32Array) => Math.tanh(z[0]! * z[1]!) * 10 + Math.max(0, z[2]! - z[3]!) ** 2 + z[4]!;
  const values = explain(model);
  values.forEach((v, i) => {
    const out = model(X.subarray(i * f, i * f + f));
    assert.ok(Math.abs(v.output - out) < 1e-9);
    assert.ok(Math.abs(v.base + v.phi.reduce((s, p) => s + p, 0) - out) < 1e-9, `row ${i}`);
  });
  const B = background.length / f;
  let mean = 0;
  for (let b = 0; b < B; b++) mean += model(background.subarray(b * f, b * f + f)) / B;
  assert.ok(Math.abs(values[0]!.base - mean) < 1e-9);
});

test('a feature the model ignores gets nothing; the permutations come in reversed pairs, the same every time', () => {
  const values = explain((z) => z[0]! * z[1]! + z[2]!);
  for (const v of values) assert.ok(Math.abs(v.phi[3]!) < 1e-12 && Math.abs(v.phi[4]!) < 1e-12);
  const a = samplingPlan(background, f);
  const b = samplingPlan(background, f);
  assert.deepEqual(a.orders, b.orders);
  assert.deepEqual(Array.from(a.orders.subarray(f, 2 * f)), Array.from(a.orders.subarray(0, f)).reverse());
  assert.deepEqual([...a.orders.subarray(0, f)].sort(), [0, 1, 2, 3, 4]);
});
