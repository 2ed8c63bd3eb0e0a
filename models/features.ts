/**
 * The model inputs: the 14 audio features of `schemas/` plus, for the deployed models, what the
 * training rows say about the track's context:
 * - its genre: the smoothed mean popularity, the share of zero-popularity rows, quartiles and
 *   spread (a genre's distribution, not only its mean: measured ~0.15 RMSE better on trees);
 * - its first artist: smoothed mean popularity of that artist's other rows and how many there
 *   are (log). 90% of tracks never seen in training have an artist that was; an unknown artist,
 *   or an event without `artists`, gets the overall prior and a count of zero.
 * Smoothing pulls a rare genre or artist toward the overall mean. Everything here is fitted on the
 * training part only and saved in each model's manifest.
 */
import { createHash } from 'node:crypto';
import { FEATURE_NAMES, type FeatureName } from '../schemas/track-features.ts';

export const GENRE_FEATURES = [
  'genre_popularity',
  'genre_zero_share',
  'genre_q25',
  'genre_median',
  'genre_q75',
  'genre_sd',
] as const;
export const ARTIST_FEATURES = ['artist_popularity', 'artist_rows_log'] as const;
export const MODEL_FEATURES = [...FEATURE_NAMES, ...GENRE_FEATURES, ...ARTIST_FEATURES] as const;
export type ModelFeature = (typeof MODEL_FEATURES)[number];

/** What a row needs to be scored: the audio features and, optionally, its genre and artists. */
export type FeatureRow = { [K in FeatureName]: number | boolean } & {
  track_genre?: string | undefined;
  artists?: string | undefined;
};

/** Per genre: the values of GENRE_FEATURES, in that order. */
type GenreStats = number[];

export interface Preprocessing {
  features: readonly string[];
  genre: {
    smoothing: number;
    prior: number;
    means: Record<string, number>;
    /** GENRE_FEATURES per genre, and for an unknown one (absent in manifests before these columns). */
    stats?: Record<string, GenreStats>;
    priorStats?: GenreStats;
  };
  /** First artist → [smoothed mean popularity, training rows]; absent before these columns. */
  artist?: { smoothing: number; prior: number; byArtist: Record<string, [number, number]> };
  /** Per-feature mean and standard deviation (for the neural networks). */
  mean: number[];
  std: number[];
}

const GENRE_SMOOTHING = 20;
const ARTIST_SMOOTHING = 5;
/** Training rows get their artist columns out of fold: from the other folds' tracks only. */
const ARTIST_FOLDS = 5;

/** The first of `;`-separated artists, as the key of the artist columns. */
export const firstArtist = (artists: string | undefined): string => (artists ?? '').split(';')[0]!.trim();

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

export const genreValue = (p: Preprocessing, genre: string | undefined): number =>
  genre ? (p.genre.means[genre] ?? p.genre.prior) : p.genre.prior;

const genreStats = (p: Preprocessing, genre: string | undefined): GenreStats =>
  (genre ? p.genre.stats?.[genre] : undefined) ?? p.genre.priorStats ?? [p.genre.prior, 0, 0, 0, 0, 0];

/** [mean, rows] of an artist; an unknown or absent one is the prior with no rows. */
function artistValue(p: Preprocessing, artists: string | undefined): [number, number] {
  const a = firstArtist(artists);
  const prior = p.artist?.prior ?? p.genre.prior;
  return (a ? p.artist?.byArtist[a] : undefined) ?? [prior, 0];
}

type ArtistLookup = (row: FeatureRow, i: number) => [number, number];

function fillMatrix(rows: readonly FeatureRow[], p: Preprocessing, artistOf: ArtistLookup): Float32Array {
  const f = p.features.length;
  const X = new Float32Array(rows.length * f);
  rows.forEach((r, i) => {
    const o = i * f;
    for (let j = 0; j < FEATURE_NAMES.length; j++) X[o + j] = Number(r[FEATURE_NAMES[j]!]);
    if (f === FEATURE_NAMES.length) return;
    // Manifests from before the distribution columns hold only genre_popularity after the 14.
    if (f === FEATURE_NAMES.length + 1) {
      X[o + FEATURE_NAMES.length] = genreValue(p, r.track_genre);
      return;
    }
    const g = genreStats(p, r.track_genre);
    for (let k = 0; k < GENRE_FEATURES.length; k++) X[o + FEATURE_NAMES.length + k] = g[k]!;
    const [mean, n] = artistOf(r, i);
    X[o + FEATURE_NAMES.length + GENRE_FEATURES.length] = mean;
    X[o + FEATURE_NAMES.length + GENRE_FEATURES.length + 1] = Math.log1p(n);
  });
  return X;
}

/** Rows to score → row-major Float32Array (n × p.features.length), raw units. */
export function toMatrix(rows: readonly FeatureRow[], p: Preprocessing): Float32Array {
  return fillMatrix(rows, p, (r) => artistValue(p, r.artists));
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

/** Standardized copy for the neural networks, clipped to ±6 σ so an outlier cannot blow up a layer. */
export function standardize(X: Float32Array, p: Preprocessing): Float32Array {
  const Z = new Float32Array(X.length);
  const f = p.features.length;
  for (let i = 0; i < X.length; i++) {
    const j = i % f;
    Z[i] = Math.max(-6, Math.min(6, (X[i]! - p.mean[j]!) / p.std[j]!));
  }
  return Z;
}
