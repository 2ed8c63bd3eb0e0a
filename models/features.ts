/**
 * The model inputs: the 14 audio features of `schemas/` plus, for the deployed models, what the
 * training rows say about the track's context:
 * - its genre: the smoothed mean popularity, the share of zero-popularity rows, quartiles and
 *   spread (a genre's distribution, not only its mean: measured ~0.15 RMSE better on trees);
 * - its first artist: smoothed mean popularity of that artist's other rows and how many there
 *   are (log). 90% of tracks never seen in training have an artist that was; an unknown artist,
 *   or an event without `artists`, gets the overall prior and a count of zero.
 * Smoothing pulls a rare genre or artist toward the overall mean. Everything here is fitted on the
 * training part only (training/context-fit.ts) and saved once per set (context.ts).
 */
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
export type GenreStats = number[];

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

/** The first of `;`-separated artists, as the key of the artist columns. */
export const firstArtist = (artists: string | undefined): string => (artists ?? '').split(';')[0]!.trim();

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

export type ArtistLookup = (row: FeatureRow, i: number) => [number, number];

export function fillMatrix(
  rows: readonly FeatureRow[],
  p: Preprocessing,
  artistOf: ArtistLookup,
): Float32Array {
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
