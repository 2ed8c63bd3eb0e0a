/**
 * Training the error estimator (models/error-estimate.ts) from the test split of a training run:
 * half of the test tracks teach it the squared error of each score, the other half check it, as
 * they are and with energy shifted by +0.25 (the evaluation fits rescore the shifted rows), then
 * the shipped estimator learns from every test row. The check is printed and kept in the file.
 */
import type { ScoreName } from '../schemas/index.ts';
import {
  type ErrorEstimateFile,
  type EstimateCheck,
  ESTIMATE_INPUTS,
  estimateInputs,
  genreErrorFor,
  genreErrorsOf,
  rmseOfSquaredErrors,
  spreadsOf,
} from '../models/error-estimate.ts';
import { groupedSplit } from './split.ts';
import type { TrainingRow } from './rows.ts';
import { parseXgbModel, predictXgb } from '../models/xgboost/binary-model.ts';
import { trainXgboostBinary } from './xgboost/wasm-trainer.ts';

type Scores = Partial<Record<ScoreName, Float32Array>>;

/** Shallow and slow-learning: ~10k rows of a noisy target (one squared error per row). */
const PARAMS = {
  objective: 'reg:linear',
  max_depth: 4,
  eta: 0.05,
  subsample: 0.8,
  colsample_bytree: 0.9,
  min_child_weight: 50,
  lambda: 1,
  seed: 42,
  silent: 1,
};
const TREES = 200;

async function fitSquaredError(X: Float32Array, squaredError: Float32Array): Promise<Uint8Array> {
  // Starting from the mean: squared errors are ~200, XGBoost's default start 0.5.
  const mean = squaredError.reduce((a, v) => a + v, 0) / Math.max(1, squaredError.length);
  return trainXgboostBinary(X, squaredError, ESTIMATE_INPUTS.length, { ...PARAMS, base_score: mean }, TREES);
}

const pick = <T>(xs: ArrayLike<T>, idx: readonly number[]) => idx.map((i) => xs[i]!);
const squaredErrors = (y: ArrayLike<number>, s: ArrayLike<number>) =>
  Float32Array.from({ length: y.length }, (_, i) => (y[i]! - s[i]!) ** 2);
const rmse = (y: ArrayLike<number>, s: ArrayLike<number>) =>
  Math.sqrt(squaredErrors(y, s).reduce((a, v) => a + v, 0) / y.length);

export const SHIFT = { feature: 'energy', by: 0.25 } as const;
export const shifted = (r: TrainingRow): TrainingRow => ({ ...r, energy: Math.min(1, r.energy + SHIFT.by) });

export async function fitErrorEstimate(opts: {
  version: string;
  rows: TrainingRow[];
  scores: Scores;
  seed: number;
  /** The evaluation fits' scores of other rows (the shifted ones). */
  rescore: (rows: TrainingRow[]) => Promise<Scores>;
  log: (line: string) => void;
}): Promise<ErrorEstimateFile> {
  const { rows, scores } = opts;
  const y = Float32Array.from(rows, (r) => r.popularity);
  const split = groupedSplit(
    rows.map((r) => r.track_id),
    opts.seed + 2,
    0.5,
  );
  const check = split.test.map((i) => rows[i]!);
  const shiftedScores = await opts.rescore(check.map(shifted));
  const spread = spreadsOf(scores);
  const spreadShifted = spreadsOf(shiftedScores);
  const hard = hardGenreRows(rows, split.train, split.test, scores.rf ?? Object.values(scores)[0]!, y);
  const file: ErrorEstimateFile = {
    version: opts.version,
    inputs: [...ESTIMATE_INPUTS],
    models: {},
    evaluation: {},
    genreErrors: {},
  };
  const genresOf = (idx: readonly number[]) => idx.map((i) => rows[i]!.track_genre);
  const all = rows.map((_, i) => i);
  for (const [score, s] of Object.entries(scores) as [ScoreName, Float32Array][]) {
    const sA = Float32Array.from(pick(s, split.train));
    const sB = Float32Array.from(pick(s, split.test));
    const yA = Float32Array.from(pick(y, split.train));
    const yB = Float32Array.from(pick(y, split.test));
    const se = squaredErrors(y, s);
    const learner = parseXgbModel(
      await fitSquaredError(
        estimateInputs(
          pick(rows, split.train),
          sA,
          pick(spread, split.train),
          outOfFoldGenreErrors(rows, split.train, se, opts.seed),
        ),
        squaredErrors(yA, sA),
      ),
    );
    // The check half reads the learning half's genre errors, as served events read the test split's.
    const learnedGenres = genreErrorsOf(genresOf(split.train), pick(se, split.train));
    const estimate = (
      idx: readonly number[],
      events: TrainingRow[],
      s2: Float32Array,
      spreads: ArrayLike<number>,
    ) =>
      rmseOfSquaredErrors(
        predictXgb(
          learner,
          estimateInputs(
            events,
            s2,
            spreads,
            genresOf(idx).map((g) => genreErrorFor(learnedGenres, g)),
          ),
          ESTIMATE_INPUTS.length,
        ),
      );
    const result: EstimateCheck = {
      rows: check.length,
      realized: rmse(yB, sB),
      estimated: estimate(split.test, check, sB, pick(spread, split.test)),
    };
    const sShift = shiftedScores[score];
    if (sShift)
      result.shifted = {
        what: `${SHIFT.feature} +${SHIFT.by}`,
        realized: rmse(yB, sShift),
        estimated: estimate(split.test, check.map(shifted), sShift, spreadShifted),
      };
    if (hard.length) {
      const sH = Float32Array.from(pick(s, hard));
      const yH = Float32Array.from(pick(y, hard));
      result.hardGenres = {
        what: 'the genres in the top quarter by error on the other half',
        rows: hard.length,
        realized: rmse(yH, sH),
        estimated: estimate(hard, pick(rows, hard), sH, pick(spread, hard)),
      };
    }
    file.evaluation[score] = result;
    opts.log(
      `  grouped/error estimate ${score}: on ${check.length} test rows it did not learn from, RMSE ${result.realized.toFixed(2)} realized, ${result.estimated.toFixed(2)} estimated` +
        (result.shifted
          ? `; ${result.shifted.what}: ${result.shifted.realized.toFixed(2)} realized, ${result.shifted.estimated.toFixed(2)} estimated`
          : '') +
        (result.hardGenres
          ? `; ${result.hardGenres.rows} rows of the hardest genres: ${result.hardGenres.realized.toFixed(2)} realized, ${result.hardGenres.estimated.toFixed(2)} estimated`
          : ''),
    );
    const shipped = await fitSquaredError(
      estimateInputs(rows, s, spread, outOfFoldGenreErrors(rows, all, se, opts.seed)),
      se,
    );
    file.models[score] = Buffer.from(shipped).toString('base64');
    file.genreErrors[score] = genreErrorsOf(genresOf(all), se);
  }
  return file;
}

/**
 * A covariate shift with a known effect: the check rows of the genres in which the scores erred
 * most on the other half (ranked by that half's labels only, so the check's labels judge).
 */
function hardGenreRows(
  rows: TrainingRow[],
  learn: number[],
  check: number[],
  score: Float32Array,
  y: Float32Array,
): number[] {
  const byGenre = new Map<string, { se: number; n: number }>();
  for (const i of learn) {
    const g = byGenre.get(rows[i]!.track_genre) ?? { se: 0, n: 0 };
    g.se += (y[i]! - score[i]!) ** 2;
    g.n++;
    byGenre.set(rows[i]!.track_genre, g);
  }
  const ranked = [...byGenre].filter(([, g]) => g.n >= 5).sort((a, b) => b[1].se / b[1].n - a[1].se / a[1].n);
  const hard = new Set(ranked.slice(0, Math.ceil(ranked.length / 4)).map(([genre]) => genre));
  return check.filter((i) => hard.has(rows[i]!.track_genre));
}

/**
 * The genre-error input of the rows an estimator learns from, out of fold (two halves by track,
 * each reading the other's table): a row's own error in its genre's mean would teach the estimator
 * to trust the input more than it deserves on events it never saw.
 */
function outOfFoldGenreErrors(
  rows: TrainingRow[],
  idx: readonly number[],
  squaredError: ArrayLike<number>,
  seed: number,
): Float32Array {
  const folds = groupedSplit(
    idx.map((i) => rows[i]!.track_id),
    seed + 3,
    0.5,
  );
  const tableOf = (positions: number[]) =>
    genreErrorsOf(
      positions.map((p) => rows[idx[p]!]!.track_genre),
      positions.map((p) => squaredError[idx[p]!]!),
    );
  const a = tableOf(folds.train);
  const b = tableOf(folds.test);
  const out = new Float32Array(idx.length);
  for (const p of folds.train) out[p] = genreErrorFor(b, rows[idx[p]!]!.track_genre);
  for (const p of folds.test) out[p] = genreErrorFor(a, rows[idx[p]!]!.track_genre);
  return out;
}
