/** The context columns: genre distribution and artist, fitted on training rows only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ARTIST_FEATURES,
  GENRE_FEATURES,
  MODEL_FEATURES,
  type Preprocessing,
  toMatrix,
} from '../../models/features.ts';
import { fitPreprocessing, trainingMatrix } from '../../training/context-fit.ts';
import { FEATURE_NAMES } from '../../schemas/track-features.ts';

const audio = Object.fromEntries(FEATURE_NAMES.map((f) => [f, f === 'explicit' ? false : 1])) as Record<
  (typeof FEATURE_NAMES)[number],
  number | boolean
>;
const row = (track_id: string, artists: string, track_genre: string) => ({
  ...audio,
  track_id,
  artists,
  track_genre,
});
const col = (name: (typeof MODEL_FEATURES)[number]) => MODEL_FEATURES.indexOf(name);
const f = MODEL_FEATURES.length;

// Ten tracks by one artist (labels 10..100) and one by another; all one genre but the last.
const rows = [
  ...Array.from({ length: 10 }, (_, i) => row(`t${i}`, 'Ana;Guest', 'pop')),
  row('solo', 'Bo', 'pop'),
  row('x', 'Cy', 'jazz'),
];
const y = Float32Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0, 0]);

test('scoring rows: the first artist keys the artist columns; an unknown or absent artist is the prior with no rows', () => {
  const pre = fitPreprocessing(rows, y);
  assert.deepEqual(pre.features, MODEL_FEATURES);
  const [ana, unknown, none] = [
    row('new', 'Ana', 'pop'),
    row('new', 'Zed', 'pop'),
    { ...audio, track_genre: 'pop' },
  ].map((r) => toMatrix([r], pre));
  const prior = y.reduce((a, b) => a + b, 0) / y.length;
  // Smoothed: (550 + prior * 5) / (10 + 5).
  assert.ok(Math.abs(ana![col('artist_popularity')]! - (550 + prior * 5) / 15) < 1e-3);
  assert.ok(Math.abs(ana![col('artist_rows_log')]! - Math.log1p(10)) < 1e-6);
  for (const X of [unknown!, none!]) {
    assert.ok(Math.abs(X[col('artist_popularity')]! - prior) < 1e-3);
    assert.equal(X[col('artist_rows_log')], 0);
  }
});

test("training rows: a row's artist columns never include its own track's label (out of fold)", () => {
  const pre = fitPreprocessing(rows, y);
  const X = trainingMatrix(rows, y, pre);
  const served = toMatrix(rows, pre);
  const prior = pre.artist!.prior;
  for (let i = 0; i < 10; i++) {
    const n = Math.round(Math.expm1(X[i * f + col('artist_rows_log')]!));
    assert.ok(n < 10, `row ${i}: at most the other nine tracks (${n})`);
    // The mean it was given is that of n of the other rows, smoothed: recompute from the labels.
    const mean = X[i * f + col('artist_popularity')]!;
    assert.ok(mean >= (10 * n + prior * 5) / (n + 5) - 1e-3 || n === 0);
  }
  // The one track of 'Bo' has no other rows: the prior, whereas scoring it sees its own label.
  const solo = 10 * f;
  assert.ok(Math.abs(X[solo + col('artist_popularity')]! - prior) < 1e-3);
  assert.equal(X[solo + col('artist_rows_log')], 0);
  assert.ok(Math.abs(served[solo + col('artist_popularity')]! - (0 + prior * 5) / 6) < 1e-3);
  // Audio and genre columns are the scoring ones.
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < FEATURE_NAMES.length + GENRE_FEATURES.length; j++)
      assert.equal(X[i * f + j], served[i * f + j]);
});

test('genre columns: smoothed mean and zero share, quartiles and spread of the genre; unknown genre gets the overall ones', () => {
  const pre = fitPreprocessing(rows, y);
  const pop = toMatrix([row('n', 'Ana', 'pop')], pre);
  const g = (name: (typeof GENRE_FEATURES)[number]) => pop[col(name)]!;
  // pop holds 10..100 and one 0: median 50, quartiles by linear interpolation (25 and 75).
  assert.equal(g('genre_median'), 50);
  assert.equal(g('genre_q25'), 25);
  assert.equal(g('genre_q75'), 75);
  const unknown = toMatrix([row('n', 'Ana', 'no-such-genre')], pre);
  assert.ok(Math.abs(unknown[col('genre_popularity')]! - pre.genre.prior) < 1e-3);
  assert.ok(Math.abs(unknown[col('genre_zero_share')]! - 2 / 12) < 1e-6);
});

test('a manifest from before the context columns (the 14 and genre_popularity) still scores as it did', () => {
  const pre = fitPreprocessing(rows, y);
  const old: Preprocessing = {
    features: [...FEATURE_NAMES, 'genre_popularity'],
    genre: { smoothing: 20, prior: 40, means: { pop: 45 } },
    mean: [],
    std: [],
  };
  const X = toMatrix([row('n', 'Ana', 'pop'), row('n', 'Ana', 'rock')], old);
  assert.equal(X.length, 2 * 15);
  assert.equal(X[14], 45);
  assert.equal(X[29], 40);
  assert.equal(ARTIST_FEATURES.length + GENRE_FEATURES.length + FEATURE_NAMES.length, pre.features.length);
});

test('a version id names the run to the second, the data and the seed: two runs on one day are two versions', async () => {
  const { versionId } = await import('../../training/results.ts');
  const at = (created: string) =>
    versionId({ created, data: { sha256: '932f111e39625e94' } } as Parameters<typeof versionId>[0], 42);
  assert.equal(at('2026-12-02T18:07:21.123Z'), '20261202-180721-932f111e-s42');
  assert.notEqual(at('2026-12-02T18:07:21.123Z'), at('2026-12-02T19:40:02.000Z'));
});
