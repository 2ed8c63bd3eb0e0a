/**
 * The ensemble score: a weighted sum of the four models' scores, the weights fitted on the
 * validation slice (rows by track that none of the four learnt from), never on the test part.
 * Weights are non-negative least squares without an intercept: every subset of models is solved
 * by its normal equations and the best one whose weights are all ≥ 0 wins (four models, 15 sets).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../lib/errors.ts';
import { MODEL_NAMES, type ModelName, type ScoreName } from '../schemas/prediction.ts';
import type { BinnedReference } from './drift-reference.ts';
import type { Metrics } from './metrics.ts';

export type EnsembleWeights = Partial<Record<ModelName, number>>;

/**
 * `ensemble.json` beside the four model folders: present only when training found that the
 * ensemble beats the best single model on the test split, and then the workers publish it as a
 * fifth score ('ensemble') in every channel. No file, four scores.
 */
export const ENSEMBLE_FILE = 'ensemble.json';

/** The ensemble's version for a training run id: it names its run like the models' (`rf-<id>`). */
export const ensembleVersionFor = (runId: string) => `ensemble-${runId}`;

/** The scores a model set publishes: the four, then `ensemble` when it ships one. */
export const scoreNamesFor = (hasEnsemble: boolean): readonly ScoreName[] =>
  hasEnsemble ? [...MODEL_NAMES, 'ensemble'] : MODEL_NAMES;

export interface EnsembleManifest {
  name: 'ensemble';
  version: string;
  created: string;
  weights: EnsembleWeights;
  /** On the grouped test split (the split fits' scores), beside the best single model's. */
  metrics: { grouped: Metrics };
  bestSingle: { model: ModelName; rmse: number };
  validation: { rows: number; rmse: number };
  /** Deciles of the shipped fits' weighted training scores, like each model's `drift.score`. */
  drift: { score: BinnedReference };
}

/** The ensemble of a model folder, or undefined when it has none; a malformed one is refused. */
export async function readEnsemble(dir: string): Promise<EnsembleManifest | undefined> {
  const path = join(dir, ENSEMBLE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let e: EnsembleManifest;
  try {
    e = JSON.parse(text) as EnsembleManifest;
  } catch (err) {
    throw new HitstreamError('MODEL_MISMATCH', `${path} is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const entries = Object.entries(e?.weights ?? {});
  const bad = entries.find(
    ([m, w]) => !(MODEL_NAMES as readonly string[]).includes(m) || typeof w !== 'number' || !(w >= 0),
  );
  if (!entries.length || bad || typeof e.version !== 'string' || !e.drift?.score)
    throw new HitstreamError(
      'MODEL_MISMATCH',
      bad
        ? `${path}: weights.${bad[0]} must be a non-negative number for one of ${MODEL_NAMES.join(', ')}`
        : `${path} needs a version, weights and drift.score: retrain to rewrite it`,
    );
  return e;
}

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

const clip = (v: number) => Math.min(100, Math.max(0, v));

export function ensembleScores(scores: Partial<Record<ModelName, ArrayLike<number>>>, w: EnsembleWeights) {
  const names = Object.keys(w) as ModelName[];
  const n = scores[names[0]!]!.length;
  return Float32Array.from({ length: n }, (_, i) =>
    clip(names.reduce((s, m) => s + w[m]! * scores[m]![i]!, 0)),
  );
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
