/**
 * The rows a model trains on, the same whichever source they come from (a CSV or the labelled
 * events the pipeline stored): labelled and complete, one row per (track_id, track_genre) with
 * the latest label winning (the dataset itself repeats 410 such pairs, and a replayed track is
 * stored once per replay), values at the precision storage keeps (Float32 columns rounded), in
 * one canonical order so the splits, and so the matrices, are equal too.
 */
import type { KaggleTrack } from '../lib/kaggle-csv.ts';

export type TrainingRow = KaggleTrack & { popularity: number };

/** Columns track_events stores as Float32: a CSV's float64 values rounded as storage would. */
const FLOAT32_COLUMNS = [
  'danceability',
  'energy',
  'loudness',
  'speechiness',
  'acousticness',
  'instrumentalness',
  'liveness',
  'valence',
  'tempo',
] as const;

/** The original's cleaning: drop rows with empty text fields (one row in the Kaggle file). */
const complete = (t: KaggleTrack): t is TrainingRow =>
  t.popularity !== undefined && t.artists !== '' && t.album_name !== '' && t.track_name !== '';

export function asStored(t: TrainingRow): TrainingRow {
  const out = { ...t };
  for (const c of FLOAT32_COLUMNS) out[c] = Math.fround(t[c]);
  return out;
}

const keyOf = (t: KaggleTrack) => `${t.track_id}\u0000${t.track_genre}`;

/**
 * `tracks` in the order they happened (file order, or event time): the training rows, and how
 * many were dropped as incomplete or as an older copy of the same (track, genre).
 */
export function trainingRows(tracks: readonly KaggleTrack[]) {
  const latest = new Map<string, TrainingRow>();
  let incomplete = 0;
  for (const t of tracks) {
    if (!complete(t)) incomplete++;
    else latest.set(keyOf(t), asStored(t));
  }
  const rows = [...latest.values()].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return { rows, incomplete, duplicates: tracks.length - incomplete - rows.length };
}
