/**
 * The ensemble's weights, fitted on the validation slice (rows by track that none of the four
 * learnt from), never on the test part. Weights are non-negative least squares without an
 * intercept: every subset of models is solved by its normal equations and the best one whose
 * weights are all ≥ 0 wins (four models, 15 sets).
 */
import { type EnsembleWeights, ensembleScores } from '../models/ensemble.ts';
import { regressionMetrics } from '../models/metrics.ts';
import type { ModelName } from '../schemas/prediction.ts';
import { trainerFor } from './kinds.ts';
import type { EnsembleResult, Protocol } from './results.ts';
import { groupedSplit } from './split.ts';
import type { TrainData, Validation } from './trainer.ts';

/** Solves A w = b for a small symmetric system by Gaussian elimination; undefined if singular. */
function solve(A: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    if (Math.abs(M[p]![c]!) < 1e-9) return undefined;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const k = M[r]![c]! / M[c]![c]!;
      for (let j = c; j <= n; j++) M[r]![j]! -= k * M[c]![j]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

/** The weights with the lowest squared error on (scores, y), each ≥ 0 (models weighted 0 are left out). */
export function fitEnsembleWeights(
  scores: Partial<Record<ModelName, ArrayLike<number>>>,
  y: ArrayLike<number>,
) {
  const names = Object.keys(scores) as ModelName[];
  let best: { weights: EnsembleWeights; sse: number } | undefined;
  for (let mask = 1; mask < 1 << names.length; mask++) {
    const used = names.filter((_, k) => mask & (1 << k));
    const A = used.map((a) => used.map((b) => dot(scores[a]!, scores[b]!)));
    const w = solve(
      A,
      used.map((a) => dot(scores[a]!, y)),
    );
    if (!w || w.some((v) => v < 0)) continue;
    const weights = Object.fromEntries(used.map((m, k) => [m, w[k]!])) as EnsembleWeights;
    const pred = ensembleScores(scores, weights);
    let sse = 0;
    for (let i = 0; i < y.length; i++) sse += (pred[i]! - y[i]!) ** 2;
    if (!best || sse < best.sse) best = { weights, sse };
  }
  if (!best) throw new Error('ensemble: no non-negative weights fit the validation slice');
  return { weights: best.weights, rmse: Math.sqrt(best.sse / y.length) };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Ensemble weights on the validation slice, when every model scored the same slice. */
export function fitEnsemble(
  models: ModelName[],
  validation: Partial<Record<ModelName, Validation>>,
  testScores: Partial<Record<ModelName, Float32Array>>,
  ytr: Float32Array,
  yte: Float32Array,
): EnsembleResult | undefined {
  const rows = validation[models[0]!]?.rows;
  if (models.length < 2 || !rows) return undefined;
  const same = (r: readonly number[] | undefined) =>
    r?.length === rows.length && r.every((v, i) => v === rows[i]);
  if (!models.every((m) => same(validation[m]?.rows))) return undefined;
  const { weights, rmse } = fitEnsembleWeights(
    Object.fromEntries(models.map((m) => [m, validation[m]!.predictions])),
    Float32Array.from(rows, (i) => ytr[i]!),
  );
  return {
    weights,
    validationRows: rows.length,
    validationRmse: rmse,
    metrics: regressionMetrics(yte, ensembleScores(testScores, weights)),
  };
}

/**
 * Scores of the validation slice for a kind that keeps none (the forest): a second fit on the
 * other rows. The slice is the one the other kinds stop on (by track, seed + 1, 15%).
 */
export async function probeValidation(
  name: ModelName,
  protocol: Protocol,
  data: TrainData,
  log: (line: string) => void,
): Promise<Validation | undefined> {
  if (!data.groups) return undefined;
  const split = groupedSplit(data.groups, data.seed + 1, 0.15);
  if (!split.test.length || !split.train.length) return undefined;
  const pick = (idx: number[]) => {
    const X = new Float32Array(idx.length * data.f);
    idx.forEach((i, k) => X.set(data.X.subarray(i * data.f, (i + 1) * data.f), k * data.f));
    return X;
  };
  log(`  ${protocol}/${name}: a second fit without the validation slice, for the ensemble weights`);
  const probe = await trainerFor(name, protocol).train(
    { ...data, X: pick(split.train), y: Float32Array.from(split.train, (i) => data.y[i]!) },
    () => undefined,
  );
  return { rows: split.test, predictions: await probe.scorer.predict(pick(split.test)) };
}
