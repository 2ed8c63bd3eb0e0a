/**
 * The error estimator on data whose error is known: the models err more on loud tracks. Trained
 * on one sample, it follows the realized RMSE on another, and rises with it when the traffic
 * shifts toward loud tracks (a covariate shift: the relation it learned still holds).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitErrorEstimate } from '../../training/error-estimate-fit.ts';
import { estimatorOf, type RawFeatures, readErrorEstimate, spreadsOf } from '../../models/error-estimate.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrainingRow } from '../../training/rows.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
}

function rows(n: number, seed: number, loudShare = 0.2) {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return Array.from({ length: n }, (_, i) => {
    const loud = r() < loudShare;
    const truth = 40 + 20 * r();
    const noise = (loud ? 25 : 5) * normal();
    const row = {
      track_id: `t${seed}-${i}`,
      artists: 'a',
      album_name: 'b',
      track_name: 'c',
      track_genre: loud ? 'metal' : 'pop',
      popularity: truth,
      duration_ms: 200_000,
      explicit: false,
      danceability: r(),
      energy: r(),
      key: 1,
      loudness: loud ? -3 + r() : -20 + 5 * r(),
      mode: 1,
      speechiness: r() * 0.2,
      acousticness: r(),
      instrumentalness: r() * 0.1,
      liveness: r() * 0.3,
      valence: r(),
      tempo: 120,
      time_signature: 4,
    } satisfies TrainingRow;
    return { row, score: truth + noise };
  });
}

const realized = (xs: { row: TrainingRow; score: number }[]) =>
  Math.sqrt(xs.reduce((a, x) => a + (x.row.popularity - x.score) ** 2, 0) / xs.length);

test('the estimate follows the realized RMSE, and rises with it when loud tracks (larger errors) grow from 20% to 60%', async () => {
  const train = rows(4000, 1);
  const scores = Float32Array.from(train, (x) => x.score);
  const file = await fitErrorEstimate({
    version: 'error-estimate-test',
    rows: train.map((x) => x.row),
    scores: { rf: scores, xgb: scores, mlp: scores, tabnet: scores },
    seed: 1,
    rescore: (rs) => Promise.resolve({ rf: new Float32Array(rs.length).fill(50) }),
    log: () => undefined,
  });
  const estimator = estimatorOf(file);
  const estimate = (xs: { row: TrainingRow; score: number }[]) => {
    const s = Float32Array.from(xs, (x) => x.score);
    return estimator.estimateRmse(
      'rf',
      xs.map((x) => x.row as unknown as RawFeatures),
      xs.map((x) => x.row.track_genre),
      s,
      spreadsOf({ rf: s, xgb: s, mlp: s, tabnet: s }),
    )!;
  };
  const usual = rows(3000, 2, 0.2);
  const shifted = rows(3000, 3, 0.6);
  const [ru, eu, rs, es] = [realized(usual), estimate(usual), realized(shifted), estimate(shifted)];
  process.stderr.write(
    `error estimate: usual traffic RMSE ${ru.toFixed(2)} realized, ${eu.toFixed(2)} estimated; 60% loud: ${rs.toFixed(2)} realized, ${es.toFixed(2)} estimated\n`,
  );
  assert.ok(Math.abs(eu - ru) / ru < 0.1, `usual: ${eu} vs ${ru}`);
  assert.ok(Math.abs(es - rs) / rs < 0.1, `shifted: ${es} vs ${rs}`);
  assert.ok(es > eu * 1.3, 'the estimate rises with the error');
  assert.ok(file.evaluation.rf!.rows > 1000);
});

test('an estimator whose inputs differ from this version’s is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dle-'));
  writeFileSync(
    join(dir, 'error-estimate.json'),
    JSON.stringify({ version: 'x', inputs: ['energy', 'score'], models: {}, evaluation: {} }),
  );
  await assert.rejects(readErrorEstimate(dir), /train again/);
});
