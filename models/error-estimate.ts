/**
 * The error before labels arrive (Direct Loss Estimation, as NannyML names it): for each score, a
 * small XGBoost model learns the squared error of held-out predictions from the event's audio
 * features and the score itself; on unlabelled events, the estimated RMSE of a window is the root
 * of the mean predicted squared error. Trained by `train` on the test split of the evaluation fits
 * (rows those fits never saw) and shipped in the version as error-estimate.json.
 *
 * What it assumes: that the error depends on the features, the score and the genre the same way as
 * on the test split (no concept shift). It follows covariate shift (more events where the models
 * erred more), and is blind where the world changed what a track's features mean for its
 * popularity, or where events fall outside anything the test split held (a genre it never saw reads
 * the global error). The shipped models are refitted on
 * every row after evaluation, so they err a little less than the fits it learned from: the estimate
 * leans high on traffic like the training data.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScoreName } from '../schemas/index.ts';
import { FEATURE_NAMES } from '../schemas/track-features.ts';
import { parseXgbModel, predictXgb, type XgbTrees } from './xgboost/binary-model.ts';

export const ERROR_ESTIMATE_FILE = 'error-estimate.json';

/**
 * The estimator's inputs: the raw audio features as events carry them, the score, and how far
 * apart the four models' scores of the event are (they disagree most where they err most), and the
 * squared error the score had on the event's genre in the test split (`genre_error`: the genre is
 * context the models see and the raw features do not say).
 */
export const ESTIMATE_INPUTS = [...FEATURE_NAMES, 'score', 'spread', 'genre_error'] as const;
export const ESTIMATE_INPUT_COUNT = ESTIMATE_INPUTS.length;
const F = ESTIMATE_INPUT_COUNT;

export type RawFeatures = Record<(typeof FEATURE_NAMES)[number], number | boolean>;

export interface ErrorEstimateFile {
  version: string;
  inputs: string[];
  /** Base64 of each score's saved XGBoost model. */
  models: Partial<Record<ScoreName, string>>;
  /** Measured at training on test rows the estimator did not learn from. */
  evaluation: Partial<Record<ScoreName, EstimateCheck>>;
  /** Each score's mean squared error per genre on the test split (smoothed toward `global`). */
  genreErrors: Partial<Record<ScoreName, GenreErrors>>;
}

export interface GenreErrors {
  global: number;
  byGenre: Record<string, number>;
}

/** Pulls a genre with few rows toward the global mean, as if it had this many more at the mean. */
const SMOOTHING_ROWS = 20;

export function genreErrorsOf(genres: readonly string[], squaredErrors: ArrayLike<number>): GenreErrors {
  let total = 0;
  const by = new Map<string, { sum: number; n: number }>();
  genres.forEach((g, i) => {
    const se = squaredErrors[i]!;
    total += se;
    const x = by.get(g) ?? { sum: 0, n: 0 };
    x.sum += se;
    x.n++;
    by.set(g, x);
  });
  const global = genres.length ? total / genres.length : 0;
  return {
    global,
    byGenre: Object.fromEntries(
      [...by].map(([g, x]) => [g, (x.sum + SMOOTHING_ROWS * global) / (x.n + SMOOTHING_ROWS)]),
    ),
  };
}

export const genreErrorFor = (t: GenreErrors, genre: string | undefined) =>
  (genre !== undefined ? t.byGenre[genre] : undefined) ?? t.global;

export interface EstimateCheck {
  rows: number;
  realized: number;
  estimated: number;
  shifted?: { what: string; realized: number; estimated: number };
  hardGenres?: { what: string; rows: number; realized: number; estimated: number };
}

/** Row-major matrix of the estimator's inputs. */
export function estimateInputs(
  events: readonly RawFeatures[],
  scores: ArrayLike<number>,
  spreads: ArrayLike<number>,
  genreErrors: ArrayLike<number>,
): Float32Array {
  const X = new Float32Array(events.length * F);
  events.forEach((e, i) => {
    FEATURE_NAMES.forEach((name, j) => (X[i * F + j] = Number(e[name])));
    X[i * F + F - 3] = scores[i]!;
    X[i * F + F - 2] = spreads[i]!;
    X[i * F + F - 1] = genreErrors[i]!;
  });
  return X;
}

/** Per event, max − min of the four models' scores. */
export function spreadsOf(scores: Partial<Record<ScoreName, ArrayLike<number>>>): Float32Array {
  const four = (['rf', 'xgb', 'mlp', 'tabnet'] as const).map((m) => scores[m]).filter((s) => s !== undefined);
  const n = four[0]?.length ?? 0;
  return Float32Array.from({ length: n }, (_, i) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of four) {
      lo = Math.min(lo, s[i]!);
      hi = Math.max(hi, s[i]!);
    }
    return hi - lo;
  });
}

export interface ErrorEstimator {
  version: string;
  scores: ScoreName[];
  evaluation: ErrorEstimateFile['evaluation'];
  /** Estimated RMSE of `score` over these events (undefined for a score it has no model of). */
  estimateRmse(
    score: ScoreName,
    events: readonly RawFeatures[],
    genres: readonly (string | undefined)[],
    scores: ArrayLike<number>,
    spreads: ArrayLike<number>,
  ): number | undefined;
}

export const rmseOfSquaredErrors = (predicted: Float32Array) =>
  predicted.length
    ? Math.sqrt(predicted.reduce((a, v) => a + Math.max(0, v), 0) / predicted.length)
    : Number.NaN;

export function estimatorOf(file: ErrorEstimateFile): ErrorEstimator {
  const trees = new Map<ScoreName, XgbTrees>();
  for (const [score, b64] of Object.entries(file.models) as [ScoreName, string][])
    trees.set(score, parseXgbModel(Buffer.from(b64, 'base64')));
  return {
    version: file.version,
    scores: [...trees.keys()],
    evaluation: file.evaluation,
    estimateRmse(score, events, genres, scores, spreads) {
      const m = trees.get(score);
      const table = file.genreErrors[score];
      if (!m || !table) return undefined;
      const ge = Float32Array.from(genres, (g) => genreErrorFor(table, g));
      return rmseOfSquaredErrors(predictXgb(m, estimateInputs(events, scores, spreads, ge), F));
    },
  };
}

/** The file as written, or undefined when the set has none. */
export async function readErrorEstimateFile(dir: string): Promise<ErrorEstimateFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, ERROR_ESTIMATE_FILE), 'utf8')) as ErrorEstimateFile;
  } catch {
    return undefined;
  }
}

export async function readErrorEstimate(dir: string): Promise<ErrorEstimator | undefined> {
  const file = await readErrorEstimateFile(dir);
  if (!file) return undefined;
  if (file.inputs.join(',') !== ESTIMATE_INPUTS.join(','))
    throw new Error(
      `${join(dir, ERROR_ESTIMATE_FILE)} reads ${file.inputs.join(', ')}; this hitstream feeds it ${ESTIMATE_INPUTS.join(', ')}: train again`,
    );
  return estimatorOf(file);
}

export const writeErrorEstimate = (dir: string, file: ErrorEstimateFile) =>
  writeFile(join(dir, ERROR_ESTIMATE_FILE), `${JSON.stringify(file)}\n`);
