/**
 * The shipped set explained: Tree SHAP on the shipped forest and XGBoost against Python shap's
 * values on the same trees (test/fixtures/shap-reference.json, written by `hitstream bench shap
 * --write-fixture`), and local accuracy for every score on rows of the sample.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SHAP_FIXTURE } from '../../bench/shap-check.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { expectedValue, treeShapExplainer } from '../../models/explain/tree-shap.ts';
import { loadModels } from '../../models/model-set.ts';

interface Reference {
  version: string;
  shap: string;
  base: number;
  values: number[][];
}
const fixture = JSON.parse(readFileSync(SHAP_FIXTURE, 'utf8')) as {
  rows: number[][];
  rf: Reference;
  xgb: Reference;
};
const set = await loadModels();

for (const name of ['rf', 'xgb'] as const)
  test(`${name}: Tree SHAP equals Python shap ${fixture[name].shap} on ${fixture.rows.length} rows within 1e-4`, async () => {
    const ref = fixture[name];
    assert.equal(
      set.versions[name],
      ref.version,
      `the fixture holds shap's values for ${ref.version}: after training, run \`npx hitstream bench shap --write-fixture\``,
    );
    const trees = await set.shapTrees(name)!;
    const explain = treeShapExplainer(trees, fixture.rows[0]!.length);
    assert.ok(Math.abs(expectedValue(trees) - ref.base) < 1e-4, 'base value');
    let worst = 0;
    fixture.rows.forEach((row, i) => {
      const phi = new Float64Array(row.length);
      explain(Float32Array.from(row), phi);
      phi.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref.values[i]![j]!))));
    });
    assert.ok(worst < 1e-4, `largest difference ${worst}`);
  });

test('local accuracy on the sample: base + Σ contributions = the served score within 1e-3, every score', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 12 });
  const { prediction, explanations } = await set.explain(tracks);
  assert.equal(explanations.length, tracks.length);
  for (const [i, row] of explanations.entries())
    for (const name of prediction.names) {
      const e = row[name]!;
      const served = prediction.scores[name]![i]!;
      assert.equal(e.contributions.length, set.features.length);
      const sum = e.contributions.reduce((s, v) => s + v, e.base);
      const clipped = Math.min(100, Math.max(0, sum));
      assert.ok(Math.abs(clipped - served) < 1e-3, `row ${i} ${name}: ${sum} vs the score ${served}`);
    }
});
