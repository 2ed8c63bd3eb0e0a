/**
 * The model inputs: the 14 audio features of `schemas/` plus `genre_popularity`, the genre's mean
 * popularity in the training part (smoothed toward the overall mean, so a rare genre does not get
 * an extreme value; unknown genres get the overall mean). One numeric column for the genre keeps
 * every model small and lets TabNet's masks and the trees' importances speak of "genre" as one thing.
 * Everything here is fitted on the training part only and saved in each model's manifest.
 */
import { FEATURE_NAMES, type FeatureName } from '../schemas/track-features.ts';

export const MODEL_FEATURES = [...FEATURE_NAMES, 'genre_popularity'] as const;
export type ModelFeature = FeatureName | 'genre_popularity';

/** What a row needs to be scored: the audio features and, optionally, the genre. */
export type FeatureRow = { [K in FeatureName]: number | boolean } & { track_genre?: string | undefined };

export interface Preprocessing {
  features: readonly string[];
  genre: { smoothing: number; prior: number; means: Record<string, number> };
  /** Per-feature mean and standard deviation (for the neural networks). */
  mean: number[];
  std: number[];
}

const GENRE_SMOOTHING = 20;

/**
 * Fits the preprocessing on training rows. `withGenre: false` gives the original project's 14
 * numeric features (used to reproduce its protocol); the deployed models use the genre too.
 */
export function fitPreprocessing(
  rows: readonly FeatureRow[],
  labels: ArrayLike<number>,
  withGenre = true,
): Preprocessing {
  let total = 0;
  const sums = new Map<string, [number, number]>();
  rows.forEach((r, i) => {
    const y = labels[i]!;
    total += y;
    const g = r.track_genre ?? '';
    const s = sums.get(g) ?? [0, 0];
    s[0] += y;
    s[1] += 1;
    sums.set(g, s);
  });
  const prior = total / rows.length;
  const means: Record<string, number> = {};
  for (const [g, [sum, n]] of sums) if (g) means[g] = (sum + prior * GENRE_SMOOTHING) / (n + GENRE_SMOOTHING);
  const features = withGenre ? MODEL_FEATURES : FEATURE_NAMES;
  const f = features.length;
  const partial: Preprocessing = {
    features,
    genre: { smoothing: GENRE_SMOOTHING, prior, means },
    mean: [],
    std: [],
  };
  const X = toMatrix(rows, partial);
  const mean = new Array<number>(f).fill(0);
  const sq = new Array<number>(f).fill(0);
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < f; j++) {
      const v = X[i * f + j]!;
      mean[j]! += v;
      sq[j]! += v * v;
    }
  for (let j = 0; j < f; j++) {
    mean[j] = mean[j]! / rows.length;
    sq[j] = Math.sqrt(Math.max(sq[j]! / rows.length - mean[j]! ** 2, 1e-12));
  }
  return { ...partial, mean, std: sq };
}

export const genreValue = (p: Preprocessing, genre: string | undefined): number =>
  genre ? (p.genre.means[genre] ?? p.genre.prior) : p.genre.prior;

/** Rows → row-major Float32Array (n × p.features.length), raw units. */
export function toMatrix(rows: readonly FeatureRow[], p: Preprocessing): Float32Array {
  const f = p.features.length;
  const withGenre = f > FEATURE_NAMES.length;
  const X = new Float32Array(rows.length * f);
  rows.forEach((r, i) => {
    const o = i * f;
    for (let j = 0; j < FEATURE_NAMES.length; j++) X[o + j] = Number(r[FEATURE_NAMES[j]!]);
    if (withGenre) X[o + FEATURE_NAMES.length] = genreValue(p, r.track_genre);
  });
  return X;
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
