/**
 * Fitting the context columns of models/features.ts on the training rows: the genre
 * distributions, the artist means (out of fold for the rows trained on), and the per-feature mean
 * and standard deviation the networks standardize with.
 */
import { createHash } from 'node:crypto';
import { FEATURE_NAMES } from '../schemas/track-features.ts';
import {
  fillMatrix,
  firstArtist,
  type FeatureRow,
  type GenreStats,
  MODEL_FEATURES,
  type Preprocessing,
  toMatrix,
} from '../models/features.ts';

const GENRE_SMOOTHING = 20;
const ARTIST_SMOOTHING = 5;
/** Training rows get their artist columns out of fold: from the other folds' tracks only. */
const ARTIST_FOLDS = 5;

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** GENRE_FEATURES of one set of labels, its mean and zero share smoothed toward the overall ones. */
function distribution(ys: number[], prior: number, priorZero: number, smoothing: number): GenreStats {
  const sorted = [...ys].sort((a, b) => a - b);
  const n = sorted.length;
  const sum = sorted.reduce((a, b) => a + b, 0);
  const zeros = sorted.filter((v) => v === 0).length;
  const sd = Math.sqrt(sorted.reduce((a, v) => a + (v - sum / n) ** 2, 0) / Math.max(1, n - 1));
  return [
    (sum + prior * smoothing) / (n + smoothing),
    (zeros + priorZero * smoothing) / (n + smoothing),
    quantile(sorted, 0.25),
    quantile(sorted, 0.5),
    quantile(sorted, 0.75),
    sd,
  ];
}

function groupLabels(keys: readonly string[], labels: ArrayLike<number>): Map<string, number[]> {
  const by = new Map<string, number[]>();
  keys.forEach((k, i) => {
    if (!k) return;
    const list = by.get(k) ?? [];
    list.push(labels[i]!);
    by.set(k, list);
  });
  return by;
}

/**
 * Fits the preprocessing on training rows. `withContext: false` gives the original project's 14
 * numeric features (used to reproduce its protocol); the deployed models use the context too.
 */
export function fitPreprocessing(
  rows: readonly FeatureRow[],
  labels: ArrayLike<number>,
  withContext = true,
): Preprocessing {
  const all = Array.from(labels);
  const prior = all.reduce((a, b) => a + b, 0) / all.length;
  const priorZero = all.filter((v) => v === 0).length / all.length;
  const stats: Record<string, GenreStats> = {};
  const means: Record<string, number> = {};
  for (const [g, ys] of groupLabels(
    rows.map((r) => r.track_genre ?? ''),
    labels,
  )) {
    stats[g] = distribution(ys, prior, priorZero, GENRE_SMOOTHING);
    means[g] = stats[g][0]!;
  }
  const byArtist: Record<string, [number, number]> = {};
  for (const [a, ys] of groupLabels(
    rows.map((r) => firstArtist(r.artists)),
    labels,
  ))
    byArtist[a] = [
      (ys.reduce((s, v) => s + v, 0) + prior * ARTIST_SMOOTHING) / (ys.length + ARTIST_SMOOTHING),
      ys.length,
    ];
  const partial: Preprocessing = {
    features: withContext ? MODEL_FEATURES : FEATURE_NAMES,
    genre: {
      smoothing: GENRE_SMOOTHING,
      prior,
      means,
      stats,
      priorStats: distribution(all, prior, priorZero, 0),
    },
    artist: { smoothing: ARTIST_SMOOTHING, prior, byArtist },
    mean: [],
    std: [],
  };
  return { ...partial, ...meanAndStd(trainingMatrix(rows, labels, partial), partial.features.length) };
}

function meanAndStd(X: Float32Array, f: number): { mean: number[]; std: number[] } {
  const n = X.length / f;
  const mean = new Array<number>(f).fill(0);
  const sq = new Array<number>(f).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < f; j++) {
      const v = X[i * f + j]!;
      mean[j]! += v;
      sq[j]! += v * v;
    }
  for (let j = 0; j < f; j++) {
    mean[j] = mean[j]! / n;
    sq[j] = Math.sqrt(Math.max(sq[j]! / n - mean[j]! ** 2, 1e-12));
  }
  return { mean, std: sq };
}

const foldOf = (key: string): number =>
  createHash('sha1').update(`artist-fold:${key}`).digest().readUInt32BE(0) % ARTIST_FOLDS;

/**
 * The matrix the models train on: as toMatrix, except that a row's artist columns come from the
 * rows of the other folds (folds by track id, so a track's copies never inform each other). With
 * the full-data columns a model would learn that an artist's mean predicts its own label exactly
 * as often as the artist is rare, which no unseen track can repeat.
 */
export function trainingMatrix(
  rows: readonly (FeatureRow & { track_id?: string })[],
  labels: ArrayLike<number>,
  p: Preprocessing,
): Float32Array {
  const a = p.artist;
  if (!a) return toMatrix(rows, p);
  const folds = rows.map((r, i) => foldOf(r.track_id ?? String(i)));
  const perFold = new Map<string, Float64Array>(); // artist → [sum, n] per fold, then the total
  rows.forEach((r, i) => {
    const k = firstArtist(r.artists);
    if (!k) return;
    let s = perFold.get(k);
    if (!s) perFold.set(k, (s = new Float64Array(2 * (ARTIST_FOLDS + 1))));
    s[2 * folds[i]!]! += labels[i]!;
    s[2 * folds[i]! + 1]! += 1;
    s[2 * ARTIST_FOLDS]! += labels[i]!;
    s[2 * ARTIST_FOLDS + 1]! += 1;
  });
  return fillMatrix(rows, p, (r, i) => {
    const s = perFold.get(firstArtist(r.artists));
    if (!s) return [a.prior, 0];
    const sum = s[2 * ARTIST_FOLDS]! - s[2 * folds[i]!]!;
    const n = s[2 * ARTIST_FOLDS + 1]! - s[2 * folds[i]! + 1]!;
    return [(sum + a.prior * a.smoothing) / (n + a.smoothing), n];
  });
}
