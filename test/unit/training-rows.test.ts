/** The training rows: one per (track, genre) with the latest label, storage precision, one order; refit; bad options. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { train } from '../../training/train.ts';
import { trainingRows } from '../../training/rows.ts';
import { parseSince } from '../../training/source.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';

test('a (track, genre) seen twice is one row with the later label; rows come sorted, at Float32 precision', async () => {
  const { tracks } = await loadKaggleCsv(SAMPLE, { limit: 20 });
  const a = tracks[3]!;
  const later = { ...a, popularity: 99, energy: 0.1234567891 };
  const other = { ...a, track_genre: `${a.track_genre}-x` }; // same track, another genre: its own row
  const { rows, duplicates, incomplete } = trainingRows([...tracks, later, other, { ...a, artists: '' }]);
  assert.equal(duplicates, 1);
  assert.equal(incomplete, 1);
  assert.equal(rows.length, tracks.length + 1);
  const kept = rows.filter((r) => r.track_id === a.track_id && r.track_genre === a.track_genre);
  assert.deepEqual(
    kept.map((r) => [r.popularity, r.energy]),
    [[99, Math.fround(0.1234567891)]],
  );
  const keys = rows.map((r) => `${r.track_id}\u0000${r.track_genre}`);
  assert.deepEqual(keys, [...keys].sort(), 'one canonical order, whatever the input order');
  assert.deepEqual(trainingRows([...rows].reverse()).rows, rows, 'idempotent and order-free');
});

test('--since takes 30d, 12h, 90m, 45s and names itself otherwise', () => {
  assert.equal(parseSince('30d'), 30 * 86400);
  assert.equal(parseSince('90m'), 5400);
  for (const bad of ['', '30', '-1d', '1w', '0h', 'd30'])
    assert.throws(() => parseSince(bad), /--since: expected a duration like 30d/, bad);
});

test('too few labelled rows stops the run, saying how many it found and how many it needs', async () => {
  await assert.rejects(
    train({
      data: SAMPLE,
      models: ['rf'],
      seed: 1,
      protocols: ['grouped'],
      minRows: 100_000,
      log: () => undefined,
    }),
    /usable labelled rows \(of 2964 read\); need at least 100000 to train \(--min-rows\)/,
  );
});

test('refit: the shipped artifact is fitted on every row; the report keeps the split fit’s held-out metrics', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'hs-refit-')), 'artifacts');
  const opts = {
    data: SAMPLE,
    models: ['rf'] as const,
    seed: 5,
    protocols: ['grouped'] as const,
    outDir: out,
  };
  const report = await train({
    ...opts,
    models: [...opts.models],
    protocols: [...opts.protocols],
    log: () => undefined,
  });
  const section = report.protocols.grouped!;
  const manifest = JSON.parse(readFileSync(join(out, 'rf', 'manifest.json'), 'utf8')) as {
    training: { trainRows: number; testRows: number; fit: string };
    metrics: { grouped: { rmse: number } };
  };
  assert.equal(report.data.usedRows, section.trainRows + section.testRows);
  assert.deepEqual(section.shipped, { fit: 'all-rows', rows: report.data.usedRows });
  assert.equal(manifest.training.trainRows, report.data.usedRows, 'the artifact saw every row');
  assert.equal(manifest.training.fit, 'all-rows');
  assert.equal(manifest.metrics.grouped.rmse, section.rf!.metrics.rmse, 'metrics from the split fit');

  const split = await train({
    ...opts,
    models: [...opts.models],
    protocols: [...opts.protocols],
    outDir: join(out, '..', 'split'),
    refit: false,
    log: () => undefined,
  });
  assert.deepEqual(split.protocols.grouped!.shipped, { fit: 'split', rows: section.trainRows });
  assert.equal(
    split.protocols.grouped!.rf!.metrics.rmse,
    section.rf!.metrics.rmse,
    'refit does not touch the evaluation',
  );
});
