/**
 * The ensemble score: a weighted sum of the four models' scores, the weights fitted by training
 * (training/ensemble-fit.ts) on rows none of the four learnt from.
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

const clip = (v: number) => Math.min(100, Math.max(0, v));

export function ensembleScores(scores: Partial<Record<ModelName, ArrayLike<number>>>, w: EnsembleWeights) {
  const names = Object.keys(w) as ModelName[];
  const n = scores[names[0]!]!.length;
  return Float32Array.from({ length: n }, (_, i) =>
    clip(names.reduce((s, m) => s + w[m]! * scores[m]![i]!, 0)),
  );
}
